#!/usr/bin/python3
"""Summary of one run.sh: every target, measured against sluice and (where
it applies) the Python thread-pool baseline in the same run, with the
ratio. Reads the JSON reports sluice-bench wrote (--json-out).

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


def ms(us):
    return us / 1000.0


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "/s":
        return f"{v:,.0f}/s"
    if unit == "ms":
        return f"{v:.3f} ms" if v < 10 else f"{v:.0f} ms"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    if unit == "us":
        return f"{v:.2f} us"
    return str(v)


def main(d):
    rows = []

    def row(scenario, metric, unit, s_name, p_name, get, target, ok, better):
        """better: 'high' or 'low' (how the ratio reads)."""
        s, p = load(d, s_name), load(d, p_name) if p_name else None
        sv = get(s) if s else None
        pv = get(p) if p else None
        ratio = "-"
        if sv is not None and pv not in (None, 0) and sv != 0:
            r = sv / pv if better == "high" else pv / sv
            ratio = f"sluice {r:.1f}x {'better' if r >= 1 else 'worse'}"
        verdict = "-"
        if s is not None and target:
            good = ok(s, sv)
            verdict = "MET" if good else "MISSED"
            if not s["ok"]:
                verdict += " (run not clean: lost/refused/failed)"
        rows.append((scenario, metric, fmt(sv, unit), fmt(pv, unit), ratio,
                     target or "-", verdict))

    def rate(r):
        return r["results_per_s"]

    def clean(r):
        return r["ok"] and r["items"]["lost"] == 0

    row("fwd", "forward delay p99 at 20k results/s", "ms", "fwd.sluice",
        "fwd.python", lambda r: ms(r["forward_delay_us"]["p99"]),
        "<= 0.5 ms at 20,000/s",
        lambda r, v: v <= 0.5 and r["results_per_s"] >= 19600, "low")
    row("fwd", "  achieved rate (offered 20,000/s)", "/s", "fwd.sluice",
        "fwd.python", rate, None, None, "high")
    row("fwd", "  forward delay p50", "ms", "fwd.sluice", "fwd.python",
        lambda r: ms(r["forward_delay_us"]["p50"]), None, None, "low")
    gm = load(d, "fwd.sluice.gwmetrics")
    if gm:
        rows.append(("fwd", "  of which in the gateway's out queue (/metrics)",
                     f"mean {gm['mean_us'] / 1000:.3f} ms, p99 <= "
                     f"{(gm['p99_le_us'] or 0) / 1000:g} ms", "-", "-", "-", "-"))
    row("max", "max throughput, 10 clients", "/s", "max10.sluice",
        "max10.python", rate, ">= 250,000/s, 0 lost",
        lambda r, v: v >= 250000 and clean(r), "high")
    row("max", "max throughput, 100 clients", "/s", "max100.sluice",
        "max100.python", rate, ">= 250,000/s, 0 lost",
        lambda r, v: v >= 250000 and clean(r), "high")
    for n in ("10", "100"):
        row("max", f"  lost items, {n} clients", "", f"max{n}.sluice",
            f"max{n}.python", lambda r: r["items"]["lost"], None, None, "low")
    def per_result(key):
        def get(r):
            cpu = r[key]["cpu_pct"] if key == "gateway" else r[key]
            n = r["items"]["results"]
            return cpu / 100 * r["run_s"] * 1e6 / n if n else None
        return get
    row("max", "  server CPU per result (all its threads)", "us",
        "max10.sluice", "max10.python", per_result("gateway"), None, None,
        "low")
    row("max", "  workers' CPU per result", "us", "max10.sluice", None,
        per_result("workers_cpu_pct"), None, None, "low")
    row("max", "  bench CPU per result (fast parser)", "us", "max10.sluice",
        None, lambda r: r["bench"]["cpu_us_per_result"], None, None, "low")
    row("max", "  bench CPU per result (jansson)", "us", "max10j.sluice",
        None, lambda r: r["bench"]["cpu_us_per_result"], None, None, "low")
    row("max", "max throughput, 10 msgpack clients", "/s", "max10m.sluice",
        None, rate, None, None, "high")
    row("max", "  server CPU per result, msgpack clients", "us",
        "max10m.sluice", None, per_result("gateway"), None, None, "low")
    row("max", "  forward delay p99, msgpack clients", "ms", "max10m.sluice",
        None, lambda r: ms(r["forward_delay_us"]["p99"]), None, None, "low")
    row("max", "  forward delay p99, JSON clients", "ms", "max10.sluice",
        None, lambda r: ms(r["forward_delay_us"]["p99"]), None, None, "low")
    row("cpu", "burn 20 ms x 200 on 2 threads", "/s", "cpu.sluice",
        "cpu.python", rate, ">= 98 items/s",
        lambda r, v: v >= 98 and clean(r), "high")
    row("cpu", "  ping RTT p99 meanwhile", "ms", "cpu.sluice", "cpu.python",
        lambda r: ms(r["ping_rtt_us"]["p99"]), "<= 5 ms",
        lambda r, v: v <= 5 and r["pings"]["answered"] == r["pings"]["sent"],
        "low")
    row("cpu", "  bunching index", "", "cpu.sluice", "cpu.python",
        lambda r: round(r["bunching"]["index"], 3), None, None, "low")
    row("fair", "small request (3 x 300 ms) done after", "ms", "fair.sluice",
        "fair.python", lambda r: r["per_connection"][1]["max_request_ms"],
        "<= 1,250 ms", lambda r, v: v <= 1250 and clean(r), "low")
    row("fair", "all 15 items done after", "ms", "fair.sluice",
        "fair.python", lambda r: r["makespan_ms"], "<= 2,400 ms",
        lambda r, v: v <= 2400 and clean(r), "low")
    row("idle", "server RSS, 10,000 idle connections", "MiB", "idle.sluice",
        "idle.python", lambda r: r["gateway"]["rss_end_kib"] / 1024.0,
        "< 48 MiB",
        lambda r, v: v < 48 and r["connections"]["idle_ok"] == 10000, "low")
    row("idle", "  echo throughput, 10 clients + 10,000 idle", "/s",
        "idleload.sluice", None, rate, None, None, "high")

    widths = [max(len(str(r[i])) for r in rows + [HEAD]) for i in range(7)]
    for r in [HEAD] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    others = []
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            r = load(d, f[:-5])
            if r and r.get("other_processes_cpu_pct", 0) > 10:
                others.append(f"{f[:-5]} {r['other_processes_cpu_pct']:.0f}%")
    if others:
        print("\nnote: other processes kept the machine busy during: "
              + ", ".join(others) + " (of one core)")


HEAD = ("scenario", "metric", "sluice", "python", "ratio", "target", "verdict")

if __name__ == "__main__":
    main(sys.argv[1])
