#!/usr/bin/python3
"""Summary of one run.sh, as markdown ready to paste into
docs/BENCHMARKS.md: issue 18's target table with this run's numbers and a
verdict per row, then every server side by side (sluice over JSON and
msgpack, websocketd, the Python thread pool), without and with the idle
connections, the ratios, and how busy other processes kept the machine.
Reads the JSON reports sluice-bench wrote (--json-out) in DIR.

Usage: summary.py DIR
"""

import json
import os
import sys


def load(d, name):
    try:
        with open(os.path.join(d, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rate(r):
    return r["results_per_s"] if r else None


def p(r, q):
    return r["forward_delay_us"][q] / 1000 if r and r["forward_delay_us"]["n"] else None


def per_result(r, key):
    """CPU µs per result of the server (key "gateway") or the workers."""
    if not r or not r["items"]["results"]:
        return None
    pct = r["gateway"]["cpu_pct"] if key == "gateway" else r["workers_cpu_pct"]
    if key != "gateway" and not pct:
        return None  # no workers watched: the Python pool is in the server
    return pct / 100 * r["run_s"] * 1e6 / r["items"]["results"]


def rss_per_idle(r):
    """The server's RSS growth per idle connection, KB (1000 bytes)."""
    if not r or not r["connections"]["idle_ok"] or not r["gateway"]["rss_end_kib"]:
        return None  # the holder never parked: nothing measured
    g = r["gateway"]
    return (g["rss_end_kib"] - g["rss_before_kib"]) * 1.024 / r["connections"]["idle_ok"]


def clean(r):
    return bool(r) and r["ok"] and r["items"]["lost"] == 0


def f_rate(v):
    return "-" if v is None else f"{v:,.0f}/s"


def f_ms(v):
    return "-" if v is None else (f"{v:.2f} ms" if v < 10 else f"{v:,.0f} ms")


def f_us(v):
    return "-" if v is None else f"{v:.1f} µs"


def f_x(v):
    return "-" if v is None else f"{v:.2f}"


def div(a, b):
    return a / b if a is not None and b else None


def md(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def verdict(ok, have, why=""):
    if not have:
        return "not measured"
    return ("**met**" if ok else "**missed**") + (f" ({why})" if why else "")


def targets(d, idle_n):
    s = {n: load(d, n) for n in (
        "max10.sluice", "max10-idle.sluice", "max10m.sluice", "fwd.sluice",
        "max.websocketd", "fwd.websocketd", "cpu.sluice", "idle.sluice")}
    rows = []

    a, b = rate(s["max10-idle.sluice"]), rate(s["max10.sluice"])
    x = div(a, b)
    rows.append((f"echo throughput with {idle_n:,} idle connections open ÷ without",
                 "0.13–0.22", f"{f_x(x)} ({f_rate(a)} ÷ {f_rate(b)})", "≥ 0.85",
                 verdict(x is not None and x >= 0.85 and clean(s["max10-idle.sluice"]),
                         x is not None)))

    w = per_result(s["max10.sluice"], "workers")
    rows.append(("worker CPU per echo result", "16–30 µs", f_us(w), "≤ 8 µs",
                 verdict(w is not None and w <= 8, w is not None,
                         f"{w / 8:.1f}× the target" if w and w > 8 else "")))

    gj, gm = per_result(s["max10.sluice"], "gateway"), per_result(s["max10m.sluice"], "gateway")
    rows.append(("gateway CPU per result, JSON / msgpack", "12–21 / 13 µs",
                 f"{f_us(gj)} / {f_us(gm)}", "≤ 8 / ≤ 5 µs",
                 verdict(gj is not None and gm is not None and gj <= 8 and gm <= 5,
                         gj is not None and gm is not None)))

    mj, mm = rate(s["max10.sluice"]), rate(s["max10m.sluice"])
    ok = (mj or 0) >= 70000 and (mm or 0) >= 100000 and clean(s["max10.sluice"]) \
        and clean(s["max10m.sluice"])
    lost = "0 lost" if clean(s["max10.sluice"]) and clean(s["max10m.sluice"]) else \
        ("NOT clean" if s["max10.sluice"] or s["max10m.sluice"] else "-")
    rows.append(("max sustained results/s, JSON / msgpack, 0 lost", "24–38k / 39k",
                 f"{f_rate(mj)} / {f_rate(mm)}, {lost}", "≥ 70k / ≥ 100k",
                 verdict(ok, mj is not None and mm is not None)))

    fs, fw = p(s["fwd.sluice"], "p99"), p(s["fwd.websocketd"], "p99")
    r = rate(s["fwd.sluice"])
    ok = fs is not None and fs <= 1 and (fw is None or fs < fw) and (r or 0) >= 19600
    rows.append(("forward delay p99 at 20,000 results/s (JSON)", "4.3–5.2 ms",
                 f"{f_ms(fs)} at {f_rate(r)} (websocketd {f_ms(fw)})",
                 "≤ 1 ms, and below websocketd's in the same run",
                 verdict(ok, fs is not None)))

    mw = rate(s["max.websocketd"])
    x = div(mj, mw)
    rows.append(("max sustained ÷ websocketd's, same run", "~0.5",
                 f"{f_x(x)} ({f_rate(mj)} ÷ {f_rate(mw)})", "≥ 1.5",
                 verdict(x is not None and x >= 1.5, x is not None)))

    c = s["cpu.sluice"]
    if c:
        pp, ips = c["ping_rtt_us"]["p99"] / 1000, rate(c)
        ok = pp <= 2 and ips >= 95 and c["pings"]["answered"] == c["pings"]["sent"] and clean(c)
        rows.append(("ping p99 while both cores burn (cpu scenario)", "7.8 ms",
                     f"{f_ms(pp)}, {ips:.1f} items/s", "≤ 2 ms, items/s ≥ 95 of the ideal 100",
                     verdict(ok, True)))
    else:
        rows.append(("ping p99 while both cores burn (cpu scenario)", "7.8 ms", "-",
                     "≤ 2 ms, items/s ≥ 95 of the ideal 100", "not measured"))

    k = rss_per_idle(s["idle.sluice"])
    rows.append(("gateway RSS per idle connection", "~2.9 KB",
                 "-" if k is None else f"{k:.2f} KB", "≤ 3 KB (keep)",
                 verdict(k is not None and k <= 3 and clean_idle(s["idle.sluice"], idle_n),
                         k is not None)))
    return md(("measure", "issue 18 (before)", "this run", "target", "verdict"), rows)


def clean_idle(r, n):
    c = r["connections"]
    return c["idle_ok"] == n and not c["idle_failed"] and not c["idle_lost"]


COLS = (("sluice JSON", "fwd{}.sluice", "max10{}.sluice"),
        ("sluice msgpack", "fwdm{}.sluice", "max10m{}.sluice"),
        ("websocketd", "fwd{}.websocketd", "max{}.websocketd"),
        ("Python", "fwd{}.python", "max10{}.python"))


def side_by_side(d, idle_n, wsd_idle_n):
    def get(col, kind, idle):
        pattern = col[1] if kind == "fwd" else col[2]
        return load(d, pattern.format("-idle" if idle else ""))

    def cell(kind, idle, fn):
        return [fn(r) if r else "-" for r in (get(c, kind, idle) for c in COLS)]

    def lost(r):
        return f"{r['items']['lost']}" + ("" if r["ok"] else " (run not clean)")

    rows = []
    for idle in (False, True):
        tag = (f", {idle_n:,} idle open" + (f" (websocketd {wsd_idle_n:,})"
               if wsd_idle_n != idle_n else "")) if idle else ", no idle"
        rows.append([f"**fwd: 20,000 results/s offered{tag}**", "", "", "", ""])
        rows.append(["achieved"] + cell("fwd", idle, lambda r: f_rate(rate(r))))
        rows.append(["lost (not there within the 10 s drain)"] + cell("fwd", idle, lost))
        rows.append(["forward delay p50 / p99"] + cell(
            "fwd", idle, lambda r: f"{f_ms(p(r, 'p50'))} / {f_ms(p(r, 'p99'))}"))
        rows.append(["server CPU per result"] + cell(
            "fwd", idle, lambda r: f_us(per_result(r, "gateway"))))
        rows.append(["worker CPU per result"] + cell(
            "fwd", idle, lambda r: f_us(per_result(r, "workers"))))
        rows.append([f"**max: as fast as it goes{tag}**", "", "", "", ""])
        rows.append(["results/s"] + cell("max", idle, lambda r: f_rate(rate(r))))
        rows.append(["lost"] + cell("max", idle, lost))
        rows.append(["forward delay p50 / p99"] + cell(
            "max", idle, lambda r: f"{f_ms(p(r, 'p50'))} / {f_ms(p(r, 'p99'))}"))
        rows.append(["server CPU per result"] + cell(
            "max", idle, lambda r: f_us(per_result(r, "gateway"))))
        rows.append(["worker CPU per result"] + cell(
            "max", idle, lambda r: f_us(per_result(r, "workers"))))
        rows.append(["bench CPU per result"] + cell(
            "max", idle, lambda r: f_us(r["bench"]["cpu_us_per_result"])))
    rows.append(["**ratios**", "", "", "", ""])
    rows.append(["max results/s with idle ÷ without"] + [
        f_x(div(rate(get(c, "max", True)), rate(get(c, "max", False)))) for c in COLS])
    mj = rate(load(d, "max10.sluice"))
    rows.append(["max results/s, sluice JSON ÷ this"] + [
        f_x(div(mj, rate(get(c, "max", False)))) for c in COLS])
    fj = p(load(d, "fwd.sluice"), "p99")
    rows.append(["fwd p99, this ÷ sluice JSON (> 1: sluice lower)"] + [
        f_x(div(p(get(c, "fwd", False), "p99"), fj)) for c in COLS])
    rows.append([f"**idle: {idle_n:,} connections open (websocketd {wsd_idle_n:,})**",
                 "", "", "", ""])
    idle_rows = []
    for srv in ("sluice", "websocketd", "python"):
        r = load(d, f"idle.{srv}")
        if not r:
            idle_rows.append("-")
            continue
        g, c = r["gateway"], r["connections"]
        ch = load(d, "idle.websocketd.children") if srv == "websocketd" else None
        if ch and ch.get("parent_rss_kib"):
            # once every child has started (the holder parks before that)
            g = dict(g, rss_end_kib=ch["parent_rss_kib"])
            r = dict(r, gateway=g)
        k = rss_per_idle(r)
        if k is None:
            idle_rows.append(f"not measured: {c['idle_ok']:,} of {r['idle']:,} opened")
            continue
        t = (f"{g['rss_end_kib'] / 1024:.1f} MiB ({g['rss_before_kib'] / 1024:.1f} before), "
             f"{k:.2f} KB each, {c['idle_ok']:,} open")
        if c["idle_failed"] or c["idle_lost"]:
            t += f", {c['idle_failed']} failed, {c['idle_lost']} dropped during the loads"
        if srv == "websocketd":
            if ch:
                t += (f"; + {ch['children']:,} child processes, PSS "
                      f"{ch['pss_kib'] / 1024:.1f} MiB "
                      f"({ch['pss_kib'] * 1.024 / max(ch['children'], 1):.1f} KB each)")
        idle_rows.append(t)
    rows.append(["server RSS with them open", idle_rows[0], "(same gateway)",
                 idle_rows[1], idle_rows[2]])
    cs, cp = load(d, "cpu.sluice"), load(d, "cpu.python")
    if cs or cp:
        rows.append(["**cpu: burn 20 ms × 200 on 2 threads, pings every 20 ms**",
                     "", "", "", ""])
        rows.append(["items/s", f"{rate(cs):.1f}" if cs else "-", "", "",
                     f"{rate(cp):.1f}" if cp else "-"])
        rows.append(["ping RTT p50 / p99",
                     f"{f_ms(cs['ping_rtt_us']['p50'] / 1000)} / "
                     f"{f_ms(cs['ping_rtt_us']['p99'] / 1000)}" if cs else "-", "", "",
                     f"{f_ms(cp['ping_rtt_us']['p50'] / 1000)} / "
                     f"{f_ms(cp['ping_rtt_us']['p99'] / 1000)}" if cp else "-"])
    fs, fp = load(d, "fair.sluice"), load(d, "fair.python")
    if fs or fp:
        rows.append(["**fair: 12 + 3 × sleep 300 ms on 2 threads**", "", "", "", ""])
        rows.append(["small request done after / all done after",
                     f"{fs['per_connection'][1]['max_request_ms']:,.0f} / "
                     f"{fs['makespan_ms']:,.0f} ms" if fs else "-", "", "",
                     f"{fp['per_connection'][1]['max_request_ms']:,.0f} / "
                     f"{fp['makespan_ms']:,.0f} ms" if fp else "-"])
    return md(["", *(c[0] for c in COLS)], rows)


def load_note(d):
    others = []
    for f in sorted(os.listdir(d)):
        if f.endswith(".json") and not f.endswith("gwmetrics.json") \
                and not f.endswith("children.json"):
            r = load(d, f[:-5])
            if r and "other_processes_cpu_pct" in r and r["items"]["results"]:
                others.append((r["other_processes_cpu_pct"], f[:-5]))
    if not others:
        return ""
    lo, hi = min(others), max(others)
    busy = [f"{n} {v:.0f} %" for v, n in sorted(others, reverse=True) if v > 10]

    def rd(name):
        try:
            return open(os.path.join(d, name)).read().strip()
        except OSError:
            return "?"
    return (f"Machine load: other processes (not the bench, the server or its "
            f"workers) used {lo[0]:.0f}–{hi[0]:.0f} % of a core during the measured "
            f"runs (of 200 %); above 10 %: {', '.join(busy) if busy else 'none'}. "
            f"Load average (1, 5, 15 min) {rd('loadavg.start')} at the start, "
            f"{rd('loadavg.end')} at the end.")


def main(d):
    idle = load(d, "idle.sluice")
    idle_n = idle["idle"] if idle else 10000
    widle = load(d, "idle.websocketd")
    wsd_idle_n = widle["idle"] if widle else idle_n

    def rd(name):
        try:
            return open(os.path.join(d, name)).read().strip()
        except OSError:
            return "?"
    print(f"### Issue 18's targets (run of {rd('started')}, commit {rd('commit')})\n")
    print(targets(d, idle_n))
    print("\n### Side by side (same run, same client)\n")
    print(side_by_side(d, idle_n, wsd_idle_n))
    print()
    print(load_note(d))


if __name__ == "__main__":
    main(sys.argv[1])
