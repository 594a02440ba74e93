// sluice live demo: submit a request over the gateway's WebSocket and show
// each item's result the moment it arrives (docs/PROTOCOL.md, section 1);
// or watch a notify channel and show the requests others submit to it
// (section 1.2) the same way. While items run, each one that reports
// progress gets a bar of its own and its partial values as they arrive
// (section 1, "Progress and partial values"); with "Where the time went"
// each result row says where its item's time went (section 1.4).
// No inline script or style anywhere: the gateway's CSP forbids them.
// The protocol is clients/js/sluice.js's (the build copies it here).
import { connect } from "./sluice.js";

const $ = (id) => document.getElementById(id);
const ui = {
  conn: $("conn"), rtt: $("rtt"), workers: $("workers"), queued: $("queued"),
  running: $("running"), reconnect: $("reconnect"), form: $("form"),
  task: $("task"), items: $("items"), submit: $("submit"), cancel: $("cancel"),
  alert: $("alert"), status: $("status"), progress: $("progress"),
  count: $("count"), plot: $("timeline"), summary: $("summary"), rows: $("rows"),
  rowsNote: $("rows-note"), watchForm: $("watch-form"), channel: $("channel"),
  watch: $("watch"), timing: $("timing"), inside: $("inside"),
  insideNote: $("inside-note"), table: $("results"),
};
const CHANNEL_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const PRESETS = {
  echo: '["hello", 42, {"nested": [1, 2]}]',
  burn: "[1000,1000,1000]",
  sleep: "[1500,500,1000]",
  primes: "[100000000,10000000,50000000]",
  sha256: '["abc", "sluice", ""]',
  partials: '[{"n":5,"ms":1500},{"n":3,"ms":600}]',
};
const WS_URL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/";
const PING_MS = 1000, DEAD_MS = 5000, BACKOFF_MIN = 500, BACKOFF_MAX = 10000;
const REQUEST_GIVE_UP_MS = 5000; // a request with no gateway that long ends
const MAX_ROWS = 500; // a longer table slows the page more than it shows
const MAX_INSIDE = 32; // running items shown with their own bar
const MAX_PARTIALS = 200; // partial values kept (and shown) per item

// Everything the page knows, readable from outside (tests, the console).
// req.results: {seq, ms (since submit), ok, value | code + message}, in
// arrival order; req.done: the done frame; req.error: a refusal;
// req.channel: set when the request is someone else's, watched.
// req.endMs: when it ended (ms since submit); req.cancelledSeqs: the
// items a cancel ended, which never got a result.
// watching: the channel subscribed to (kept across reconnects), or null.
// draining: the gateway said it is shutting down (pong "draining").
// notice: why the gateway closed us (1001), kept in the alert until the
// next submit, so reconnection attempts do not wipe it out.
// plotSpan: the timeline's width in ms, as last drawn.
// req.inside: per seq of an item that reported while running: {progress
// (0..1), text, frames (progress frames seen), partials (the last
// MAX_PARTIALS values of the current attempt), partialMs (when each
// arrived), npartials, restarts, ended}.
const state = window.sluiceState = {
  url: WS_URL, conn: "connecting", rtt: null, rttMax: null, pongs: 0,
  workers: null, queued: null, running: null, req: null, watching: null,
  watched: 0, draining: false, notice: null, plotSpan: 0,
};

let client = null, subscription = null, cancelRequest = null;
let nextId = 0, plotQueued = false, tickTimer = 0;

const say = (text) => { ui.status.textContent = text; };
const warn = (text) => {
  ui.alert.textContent = state.notice ? state.notice + (text ? " " + text : "") : text;
};
const clock = () => new Date().toLocaleTimeString();
const fmt = (ms) => (ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());
const running = () => state.req !== null && !state.req.ended;

function setConn(s) {
  state.conn = s;
  if (s !== "open") state.draining = false;
  ui.conn.dataset.state = state.draining ? "draining" : s;
  ui.conn.textContent = state.draining ? "open, draining" : s;
  ui.reconnect.disabled = s === "open";
  updateButtons();
}

// The gateway is shutting down: it lets running requests finish and
// refuses new ones, then closes every connection with 1001.
function setDraining(d) {
  if (d === state.draining) return;
  state.draining = d;
  setConn(state.conn);
  if (d) say("The gateway is shutting down: running requests may finish, new ones are refused.");
}

function updateButtons() {
  const hadFocus = document.activeElement;
  // A watched request gives way to one of our own.
  ui.submit.disabled = state.conn !== "open" || (running() && !state.req.channel);
  // Only the submitter may cancel: not a watched request.
  ui.cancel.disabled = !running() || state.req.cancelling || !!state.req.channel;
  ui.watch.disabled = state.conn !== "open";
  ui.watch.textContent = state.watching ? "Stop watching" : "Watch";
  // Keep keyboard focus on a usable button when one gets disabled.
  if (hadFocus === ui.submit && ui.submit.disabled && !ui.cancel.disabled) ui.cancel.focus();
  if (hadFocus === ui.cancel && ui.cancel.disabled && !ui.submit.disabled) ui.submit.focus();
}

// ---- connection: clients/js/sluice.js does the protocol ------------------

// The library reconnects and resumes the request by itself; the page
// shows what happens. A request with no gateway for REQUEST_GIVE_UP_MS
// ends (the library keeps trying to connect, for the next one).
function start() {
  client = connect([WS_URL], {
    pingMs: PING_MS, deadMs: DEAD_MS, backoffMinMs: BACKOFF_MIN,
    backoffMaxMs: BACKOFF_MAX, giveUpMs: REQUEST_GIVE_UP_MS, keepTrying: true,
  });
  client.addEventListener("state", onState);
  client.addEventListener("pong", (e) => onPong(e.frame, e.rtt));
}

function onState(e) {
  if (e.state === "connecting") {
    setConn("connecting");
  } else if (e.state === "connected") {
    setConn("open");
    warn(state.notice ? "Reconnected at " + clock() + "." : "");
    say("Connected to " + WS_URL + (running() && !state.req.channel
      ? ": request " + state.req.id + " resumes." : ""));
  } else if (e.state === "disconnected") {
    lost(e);
  }
}

// The socket is gone: the library tries again later, backing off, and
// takes our request up again (a watched one is gone: channels have no
// replay).
function lost(e) {
  let why = e.wasOpen
    ? "Connection lost (close code " + e.code + (e.reason ? ": " + e.reason : "") + ")"
    : "Cannot connect to " + WS_URL;
  // 1001: the gateway went away on purpose. Keep saying so while
  // the reconnection attempts come and go.
  if (e.wasOpen && e.code === 1001) {
    state.notice = why + " at " + clock() + ": the gateway shut down.";
    why = "";
  }
  setConn("closed");
  state.rtt = state.workers = state.queued = state.running = null;
  for (const el of [ui.rtt, ui.workers, ui.queued, ui.running]) el.textContent = "\u2013";
  const parts = why ? [why] : [];
  if (running() && state.req.channel) {
    parts.push("Stopped watching request " + state.req.id);
    endRequest(null);
  } else if (running()) {
    parts.push("Request " + state.req.id + " waits for the gateway and resumes when it is back");
  }
  parts.push("Reconnecting in " + (e.retryInMs / 1000).toFixed(1) + " s, or press Reconnect.");
  warn(parts.join(". "));
}

const ping = () => client.ping().catch(() => {});

ui.reconnect.addEventListener("click", () => {
  warn("");
  client.reconnect();
});

function onPong(f, rtt) {
  setDraining(f.draining === true);
  state.pongs++;
  state.workers = f.workers;
  state.queued = f.queued;
  state.running = f.running;
  ui.workers.textContent = f.workers;
  ui.queued.textContent = f.queued;
  ui.running.textContent = f.running;
  if (typeof rtt === "number") {
    state.rtt = rtt;
    state.rttMax = Math.max(state.rttMax || 0, rtt);
    if (running()) state.req.pongs++;
    ui.rtt.textContent = fmt(rtt) + " ms, max " + fmt(state.rttMax) + " ms";
  }
}

function showDone(req, d) {
  req.done = d;
  ui.summary.textContent = "Done: " + d.ok + " ok, " + d.failed + " failed" +
    (d.cancelled ? ", " + d.cancelled + " cancelled" : "") +
    ", elapsed " + d.elapsed_ms + " ms (gateway: accepted to last item)";
  if (d.cancelled) showCancelled(req);
  showProgress();
  endRequest((req.channel ? "Watched request " : "Request ") + d.id +
    (d.cancelled ? " cancelled: " + d.cancelled + " of " + req.n +
      " items never finished." : " finished."));
  ping(); // refresh the job counts now rather than within a second
}

// ---- watching a channel -------------------------------------------------

ui.channel.addEventListener("input", () => ui.channel.removeAttribute("aria-invalid"));

ui.watchForm.addEventListener("submit", (e) => {
  e.preventDefault();
  if (state.watching) {
    const channel = state.watching;
    subscription.close();
    subscription = null;
    state.watching = null;
    say("Stopped watching channel " + channel + ".");
    updateButtons();
    return;
  }
  const name = ui.channel.value.trim();
  if (!CHANNEL_RE.test(name)) {
    ui.channel.setAttribute("aria-invalid", "true");
    warn("A channel name is 1 to 64 of A-Z a-z 0-9 _ . : -");
    ui.channel.focus();
    return;
  }
  if (client.state !== "connected") return;
  warn("");
  watch(client.subscribe(name));
});

async function watch(sub) {
  subscription = sub;
  try {
    await sub.ready;
    if (subscription !== sub) return;
    state.watching = sub.channel;
    say("Watching channel " + sub.channel + ": requests submitted with \"notify\": \"" +
      sub.channel + "\" show here while none of yours is running.");
    updateButtons();
    for await (const f of sub) onWatched(f, performance.now());
  } catch (err) {
    if (subscription === sub) subscription = null;
    state.watching = null;
    updateButtons();
    warn("Cannot watch channel " + sub.channel + ": " + err.code + ": " +
      (err.frame ? err.frame.message : err.message));
  }
}

// A watched request's frame (each carries the channel).
function onWatched(f, now) {
  const req = state.req;
  const mine = req !== null && req.channel === f.channel && f.id === req.id && !req.ended;
  if (f.type === "accepted" && !running()) startWatched(f, now);
  else if (f.type === "result" && mine) addResult({ seq: f.seq, ms: now - req.t0, ok: true, value: f.value });
  else if (f.type === "progress" && mine) onProgress(req, f.seq, f.progress, f.text);
  else if (f.type === "partial" && mine) onPartial(req, f.seq, f.value, f.restart === true);
  else if (f.type === "error" && mine && "seq" in f) {
    addResult({ seq: f.seq, ms: now - req.t0, ok: false, code: f.code, message: f.message });
  } else if (f.type === "done" && mine) {
    showDone(req, f);
  }
}

// A request on the watched channel started: show it as our own, but
// read-only (only its submitter may cancel it).
function startWatched(f, now) {
  state.watched++;
  state.req = {
    id: f.id, task: "watched", channel: f.channel, n: f.items, t0: now,
    results: [], failed: 0, done: null, error: null, ended: false,
    cancelling: false, pongs: 0, inside: {}, timing: false,
  };
  warn("");
  say("Watching request " + f.id + " on channel " + f.channel + ": " + f.items + " items");
  resetView();
}

// ---- the request --------------------------------------------------------

ui.task.addEventListener("change", () => {
  // Swap in the new task's example unless the user typed their own items.
  if (Object.values(PRESETS).includes(ui.items.value.trim())) ui.items.value = PRESETS[ui.task.value];
});
ui.items.addEventListener("input", () => ui.items.removeAttribute("aria-invalid"));

ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (running() && !state.req.channel) return;
  let items;
  try {
    items = JSON.parse(ui.items.value);
    if (!Array.isArray(items)) throw new Error("not an array");
  } catch (err) {
    ui.items.setAttribute("aria-invalid", "true");
    warn("Items are not valid JSON" + (err instanceof SyntaxError ? "" : " array") + ": " + err.message);
    ui.items.focus();
    return;
  }
  if (client.state !== "connected") {
    warn("Not connected; wait for the connection or press Reconnect.");
    return;
  }
  const req = {
    id: "r" + ++nextId, task: ui.task.value, n: items.length,
    t0: performance.now(), results: [], failed: 0, done: null, error: null, ended: false,
    cancelling: false, pongs: 0, inside: {},
  };
  req.timing = ui.timing.checked;
  const stream = client.submit(req.task, items, { id: req.id, timing: req.timing });
  // Progress and partial values of running items (sluice.js calls these
  // only for items without a result yet).
  stream.onprogress = (p) => { if (state.req === req) onProgress(req, p.seq, p.progress, p.text); };
  stream.onpartial = (p) => { if (state.req === req) onPartial(req, p.seq, p.value, p.restart); };
  state.req = req;
  state.rttMax = state.rtt;
  state.notice = null;
  warn("");
  say("Submitted " + req.id + ": " + req.task + " on " + req.n + " items");
  resetView();
  follow(req, stream);
});

// The request's stream (kept out of state: the library's objects are its own).
async function follow(req, stream) {
  cancelRequest = () => stream.cancel();
  stream.accepted.then((f) => {
    if (state.req !== req || req.ended) return;
    say("Request " + f.id + " accepted: " + f.items + " items, " + (f.workers === 0
      ? "no worker yet (it waits for the first one)"
      : f.workers + (f.workers === 1 ? " worker" : " workers")));
  }, () => {});
  try {
    for await (const r of stream) {
      const ms = performance.now() - req.t0;
      if (state.req !== req) continue;
      const res = r.error === null ? { seq: r.seq, ms, ok: true, value: r.value }
        : { seq: r.seq, ms, ok: false, code: r.error, message: r.message };
      res.timing = timingOf(r.frame);
      addResult(res);
    }
    const d = await stream.done;
    if (state.req === req) showDone(req, d);
  } catch (err) {
    if (state.req !== req) return;
    if (err.code === "unreachable") {
      endRequest("Request " + req.id + " ended before its done: " + err.message, true);
      return;
    }
    if (err.code === "shutting_down") setDraining(true);
    req.error = { code: err.code, message: err.frame ? err.frame.message : err.message };
    endRequest("Request " + req.id + " refused: " + req.error.code + ": " + req.error.message, true);
  }
}

function resetView() {
  ui.summary.textContent = "";
  ui.rows.replaceChildren();
  ui.inside.replaceChildren();
  insideEls.clear();
  ui.insideNote.textContent = "";
  ui.table.classList.toggle("timing", !!state.req.timing);
  ui.rowsNote.textContent = "";
  showProgress();
  updateButtons();
  schedulePlot();
}

ui.cancel.addEventListener("click", () => {
  if (!running() || state.req.channel || client.state !== "connected") return;
  state.req.cancelling = true;
  cancelRequest();
  say("Cancelling " + state.req.id + "...");
  updateButtons();
});

function addResult(r) {
  const req = state.req, prev = req.results[req.results.length - 1];
  req.results.push(r);
  if (!r.ok) req.failed++;
  endInside(req, r.seq);
  showProgress();
  schedulePlot();
  if (req.results.length > MAX_ROWS) {
    if (req.results.length === MAX_ROWS + 1) ui.rowsNote.textContent =
      "Only the first " + MAX_ROWS + " results are listed; the plot shows them all.";
    return;
  }
  const tr = document.createElement("tr");
  const it = req.inside[r.seq];
  const cells = [String(r.seq), fmt(r.ms), prev ? fmt(r.ms - prev.ms) : "",
    (r.ok ? JSON.stringify(r.value) : r.code + ": " + (r.message || "")) +
      (it && it.npartials ? " (after " + it.npartials + " partial values)" : ""),
    r.timing || ""];
  cells.forEach((text, i) => {
    const td = document.createElement("td");
    td.textContent = text.length > 300 ? text.slice(0, 300) + "..." : text;
    td.className = i === 3 ? "value" : i === 4 ? "timing-col" : i > 0 ? "num" : "";
    tr.append(td);
  });
  if (!r.ok) tr.className = "failed";
  ui.rows.append(tr);
}

// The items a cancel ended get a row too: they have no result.
function showCancelled(req) {
  const seen = new Set(req.results.map((r) => r.seq));
  req.cancelledSeqs = [];
  for (let seq = 0; seq < req.n; seq++) if (!seen.has(seq)) req.cancelledSeqs.push(seq);
  for (const seq of req.cancelledSeqs) {
    if (ui.rows.children.length >= MAX_ROWS) break;
    const tr = document.createElement("tr");
    tr.className = "cancelled";
    for (const [i, text] of [String(seq), "", "", "cancelled: ended before it finished"].entries()) {
      const td = document.createElement("td");
      td.textContent = text;
      td.className = i === 3 ? "value" : i > 0 ? "num" : "";
      tr.append(td);
    }
    ui.rows.append(tr);
  }
}

// Where an item's time went (timing fields, PROTOCOL.md §1.4), or "".
function timingOf(f) {
  if (!f || typeof f.queue_us !== "number") return "";
  const ms = (us) => (typeof us === "number" ? fmt(us / 1000) : "?");
  return "queue " + ms(f.queue_us) + " + start " + ms(f.start_us) + " + run " +
    ms(f.run_us) + " ms" + (f.worker ? " on " + f.worker : "") +
    (f.attempts > 1 ? ", " + f.attempts + " attempts" : "");
}

// ---- inside running items: progress bars and partial values ------------

function insideOf(req, seq) {
  if (!(Number.isInteger(seq) && seq >= 0 && seq < req.n)) return null;
  let it = req.inside[seq];
  if (!it) {
    it = req.inside[seq] = {
      progress: 0, text: null, frames: 0, partials: [], partialMs: [],
      npartials: 0, restarts: 0, ended: false,
    };
  }
  return it.ended ? null : it;
}

// The item's entry in the running list (kept out of state: DOM nodes):
// made on its first report, at most MAX_INSIDE at once, in seq order;
// removed when its result arrives.
const insideEls = new Map();

function insideRow(seq) {
  if (insideEls.has(seq)) return insideEls.get(seq);
  if (ui.inside.children.length >= MAX_INSIDE) {
    ui.insideNote.textContent = "Only " + MAX_INSIDE + " running items are shown at once.";
    return null;
  }
  const li = document.createElement("li");
  li.dataset.seq = String(seq);
  const label = document.createElement("span");
  label.className = "seq";
  label.textContent = "seq " + seq;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute("aria-label", "progress of seq " + seq);
  const pct = document.createElement("span");
  pct.className = "pct";
  pct.textContent = "0%";
  const text = document.createElement("span");
  text.className = "ptext";
  const parts = document.createElement("div");
  parts.className = "partials";
  li.append(label, bar, pct, text, parts);
  const after = [...ui.inside.children].find((x) => Number(x.dataset.seq) > seq);
  ui.inside.insertBefore(li, after || null);
  insideEls.set(seq, li);
  return li;
}

function onProgress(req, seq, progress, text) {
  const it = insideOf(req, seq);
  if (!it || !(progress >= 0 && progress <= 1)) return;
  it.progress = progress;
  it.text = typeof text === "string" ? text : null;
  it.frames++;
  const li = insideRow(seq);
  if (li) {
    li.querySelector("progress").value = progress;
    li.querySelector(".pct").textContent = Math.floor(progress * 100) + "%";
    li.querySelector(".ptext").textContent = it.text || "";
  }
  showProgress();
}

// A partial value: appended to its item; a restart (its worker died and
// it started again elsewhere) clears what the earlier attempt sent.
function onPartial(req, seq, value, restart) {
  const it = insideOf(req, seq);
  if (!it) return;
  const li = insideRow(seq);
  const parts = li && li.querySelector(".partials");
  if (restart) {
    it.restarts++;
    it.partials = [];
    it.partialMs = [];
    it.npartials = 0;
    it.progress = 0;
    if (parts) parts.replaceChildren();
    if (li) li.classList.add("restarted");
  }
  it.npartials++;
  it.partials.push(value);
  it.partialMs.push(performance.now() - req.t0);
  if (it.partials.length > MAX_PARTIALS) { it.partials.shift(); it.partialMs.shift(); }
  if (parts) {
    const v = document.createElement("span");
    const t = JSON.stringify(value);
    v.textContent = t.length > 60 ? t.slice(0, 60) + "..." : t;
    parts.append(v);
    while (parts.childElementCount > MAX_PARTIALS) parts.firstElementChild.remove();
  }
}

function endInside(req, seq) {
  const it = req.inside[seq];
  if (it) it.ended = true;
  const li = insideEls.get(seq);
  if (li) li.remove();
  insideEls.delete(seq);
}

function showProgress() {
  const req = state.req;
  // Finished items, plus how far the running ones say they are.
  let running = 0;
  for (const k in req.inside) if (!req.inside[k].ended) running += req.inside[k].progress;
  ui.progress.max = Math.max(req.n, 1);
  ui.progress.value = req.results.length + running;
  ui.count.textContent = req.results.length + " / " + req.n + " done" +
    (req.failed ? ", " + req.failed + " failed" : "") +
    (req.done && req.done.cancelled ? ", " + req.done.cancelled + " cancelled" : "");
}

function endRequest(message, isError) {
  state.req.ended = true;
  // nothing runs any more (a cancel, a lost connection): no bars left
  for (const k in state.req.inside) state.req.inside[k].ended = true;
  ui.inside.replaceChildren();
  insideEls.clear();
  // the timeline keeps its length when the end comes without results
  state.req.endMs = performance.now() - state.req.t0;
  if (message) (isError ? warn : say)(message);
  updateButtons();
  schedulePlot();
}

// ---- timeline: one dot per item at its arrival time ---------------------

function schedulePlot() {
  if (plotQueued) return;
  plotQueued = true;
  requestAnimationFrame(() => {
    plotQueued = false;
    drawPlot();
    if (running() && !tickTimer) { // move the "now" line on, 10 times a second
      tickTimer = setTimeout(() => { tickTimer = 0; schedulePlot(); }, 100);
    }
  });
}

function niceStep(span) {
  const raw = span / 6, pow = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
}

function drawPlot() {
  const c = ui.plot, dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight;
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
  const g = c.getContext("2d"), css = getComputedStyle(c);
  const ink = css.color, okC = css.getPropertyValue("--ok"), badC = css.getPropertyValue("--bad");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = ink;
  const req = state.req;
  if (!req || req.n === 0) {
    g.fillText("Submit a request to see when each item arrives.", 12, h / 2);
    return;
  }
  const L = g.measureText("seq " + (req.n - 1)).width + 14, R = 16, T = 10, B = 34;
  const pw = w - L - R, ph = h - T - B;
  const now = req.ended ? 0 : performance.now() - req.t0;
  const last = req.results.length ? req.results[req.results.length - 1].ms : 0;
  const end = req.ended ? req.endMs || 0 : 0;
  const span = Math.max(100, last, now, end, req.done ? req.done.elapsed_ms : 0) * 1.05;
  state.plotSpan = span;
  const x = (ms) => L + (ms / span) * pw;
  const y = (seq) => T + ((seq + 0.5) / req.n) * ph;
  // axis, ticks, labels
  g.strokeStyle = ink;
  g.globalAlpha = 0.25;
  const step = niceStep(span);
  for (let t = 0; t <= span; t += step) {
    g.beginPath(); g.moveTo(x(t), T); g.lineTo(x(t), T + ph); g.stroke();
  }
  g.globalAlpha = 1;
  g.beginPath(); g.moveTo(L, T + ph); g.lineTo(L + pw, T + ph); g.stroke();
  g.textAlign = "center";
  for (let t = 0; t <= span; t += step) g.fillText(String(t), x(t), T + ph + 14);
  g.fillText(req.channel ? "ms since accepted" : "ms since submit", L + pw / 2, h - 4);
  g.textAlign = "right";
  const every = req.n <= 12 ? 1 : req.n - 1; // label each row, or the ends
  for (let seq = 0; seq < req.n; seq += every) g.fillText("seq " + seq, L - 6, y(seq) + 4);
  // "now" while running; where it ended, when that was not its done
  if (now || (end && !req.done) || (req.cancelledSeqs && req.cancelledSeqs.length)) {
    const at = now || end;
    g.setLineDash([4, 4]);
    g.beginPath(); g.moveTo(x(at), T); g.lineTo(x(at), T + ph); g.stroke();
    g.setLineDash([]);
    if (!now) {
      g.textAlign = "right";
      g.fillText(req.done ? "cancelled" : "connection lost", x(at) - 4, T + 10);
    }
  }
  // one dot per item (a cross for an error), and a rug on the axis
  const r = Math.max(1.5, Math.min(6, ph / req.n / 2.5));
  for (const it of req.results) {
    const px = x(it.ms), py = y(it.seq);
    g.fillStyle = g.strokeStyle = it.ok ? okC : badC;
    if (it.ok) {
      g.beginPath(); g.arc(px, py, r, 0, 2 * Math.PI); g.fill();
    } else {
      g.beginPath(); g.moveTo(px - r, py - r); g.lineTo(px + r, py + r);
      g.moveTo(px + r, py - r); g.lineTo(px - r, py + r); g.stroke();
    }
    g.beginPath(); g.moveTo(px, T + ph - 6); g.lineTo(px, T + ph); g.stroke();
  }
  // a cancelled item: an open circle where the request ended
  g.strokeStyle = ink;
  for (const seq of req.cancelledSeqs || []) {
    g.beginPath(); g.arc(x(end), y(seq), r, 0, 2 * Math.PI); g.stroke();
  }
}

window.addEventListener("resize", schedulePlot);
schedulePlot();
start();
