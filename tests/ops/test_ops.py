#!/usr/bin/python3
"""The operations files in deploy/ against a real gateway: the Prometheus
alert rules (deploy/prometheus/) pass `promtool check rules` and their own
`promtool test rules` cases, the example configuration passes `promtool
check config`, a live gateway's /metrics passes `promtool check metrics`,
and every metric (and label value) that the rules and the Grafana
dashboard (deploy/grafana/) select is one the gateway exports, so a renamed
metric fails here instead of leaving an alert that can never fire or an
empty panel.

promtool comes with Debian's prometheus package (deploy/dev.sh deps); no
Prometheus server runs. Usage as for the e2e tests:
test_ops.py --gateway PATH --compute PATH [--only NAME,...]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import check, run, scaled  # noqa: E402

try:
    import yaml
except ImportError as e:  # a failure, never a skip (as in harness.py)
    print(f"ops: cannot import yaml ({e}); install python3-yaml",
          file=sys.stderr)
    sys.exit(1)

DEPLOY = os.path.normpath(os.path.join(HERE, "..", "..", "deploy"))
RULES = os.path.join(DEPLOY, "prometheus", "sluice-alerts.yml")
RULE_TESTS = os.path.join(DEPLOY, "prometheus", "sluice-alerts.test.yml")
PROM_CONFIG = os.path.join(DEPLOY, "prometheus", "prometheus.example.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "sluice-dashboard.json")

# Series Prometheus makes itself for every target, not in /metrics.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Labels Prometheus adds to every series of a target.
TARGET_LABELS = {"job", "instance"}

ALERTS = {"SluiceGatewayDown", "SluiceNoWorkers", "SluiceQueueGrowing",
          "SluiceQueueBacklog", "SluiceWorkersLost", "SluiceSlowClientsCut",
          "SluiceConnectionsRefused"}


def promtool(*args, stdin=None):
    """Run promtool in the rules' directory; (exit code, stdout + stderr)."""
    exe = shutil.which("promtool")
    check(exe, "promtool not found: install Debian's prometheus package "
               "(deploy/dev.sh deps)")
    p = subprocess.run([exe, *args], input=stdin, capture_output=True,
                       text=True, timeout=scaled(60),
                       cwd=os.path.dirname(RULES))
    return p.returncode, p.stdout + p.stderr


# --- the exposition format ---------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"')


def parse_exposition(text):
    """{sample name: [({label: value}, float value), ...]}. Sample names, not
    family names: a histogram X is there as X_bucket, X_sum and X_count,
    which is what PromQL selects."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m, f"/metrics: line not understood: {line!r}")
        labels = dict(LABEL.findall(m.group(2) or ""))
        series.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return series


def value(series, name, **labels):
    return sum(v for lb, v in series.get(name, [])
               if all(lb.get(k) == w for k, w in labels.items()))


# --- metric selectors in PromQL ----------------------------------------

TOKEN = re.compile(r'''\s+|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\$\w+|\[[^\]]*\]
                       |[a-zA-Z_:][a-zA-Z0-9_:]*|[0-9][0-9a-zA-Z.+-]*
                       |=~|!~|!=|==|>=|<=|.''', re.X)
IDENT = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
# Followed by a parenthesised list of label names, not selectors.
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
# Words that are never metric names (aggregations may precede `by`).
KEYWORDS = LABEL_LISTS | {
    "and", "or", "unless", "bool", "offset", "inf", "nan", "sum", "min",
    "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile"}


def selectors(expr):
    """[(metric name, [(label, op, value), ...]), ...] for each metric
    selector in a PromQL expression (functions, keywords, label lists,
    numbers, durations and strings are skipped)."""
    toks = [t for t in TOKEN.findall(expr) if not t.isspace()]
    out, i = [], 0
    while i < len(toks):
        t, nxt = toks[i], toks[i + 1] if i + 1 < len(toks) else ""
        if t.lower() in LABEL_LISTS and nxt == "(":
            i = toks.index(")", i) + 1
            continue
        check(t != "{", f"selector without a metric name in {expr!r}")
        if IDENT.fullmatch(t) and t.lower() not in KEYWORDS and nxt != "(":
            matchers = []
            if nxt == "{":
                end = toks.index("}", i)
                body = [x for x in toks[i + 2:end] if x != ","]
                check(len(body) % 3 == 0, f"matchers not understood in "
                                          f"{expr!r}: {body}")
                for k in range(0, len(body), 3):
                    matchers.append((body[k], body[k + 1],
                                     body[k + 2][1:-1]))
                i = end
            out.append((t, matchers))
        i += 1
    return out


def unknown_names(exprs, series):
    """What the expressions select that /metrics does not have: a list of
    'where: problem' strings, empty when all is well. exprs: [(where,
    PromQL)]. Equality matchers (and plain alternatives of =~) on labels
    other than job/instance must name a label value /metrics has."""
    problems = []
    for where, expr in exprs:
        sels = selectors(expr)
        if not sels:
            problems.append(f"{where}: no metric in {expr!r}")
        for name, matchers in sels:
            if name in SYNTHETIC:
                continue
            if name not in series:
                problems.append(f"{where}: no metric {name} in /metrics")
                continue
            for label, op, want in matchers:
                if label in TARGET_LABELS or "$" in want or op not in ("=", "=~"):
                    continue
                have = {lb.get(label) for lb, _ in series[name]}
                alts = want.split("|") if op == "=~" else [want]
                for alt in alts:
                    if op == "=~" and not re.fullmatch(r"[\w:]+", alt):
                        continue  # a real regex: not checked
                    if alt not in have:
                        problems.append(f"{where}: {name} has no "
                                        f"{label}=\"{alt}\" in /metrics")
    return problems


def rule_exprs(rules_text):
    doc = yaml.safe_load(rules_text)
    return [(f"rule {r.get('alert') or r.get('record')}", r["expr"])
            for grp in doc["groups"] for r in grp["rules"]]


def dashboard_exprs(dash):
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((f"panel {p['title']!r} {t['refId']}", t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*\w+\s*\)", q)
        check(m, f"variable {v['name']}: query not understood: {q!r}")
        out.append((f"variable {v['name']}", m.group(1)))
    return out


def read(path):
    with open(path) as f:
        return f.read()


# --- tests ---------------------------------------------------------------

async def test_parser(h):
    """The selector parser on the shapes the files use, so that the name
    check below checks what it claims to."""
    got = selectors('histogram_quantile(0.99, sum by (le) (rate('
                    'sluice_x_bucket{instance=~"$instance"}[$__rate_interval])))'
                    ' / on(instance) group_left() max without (job) (up)'
                    ' and sum(increase(b_total{outcome="ok"}[15m])) * 60 > 0'
                    ' offset 5m')
    check(got == [("sluice_x_bucket", [("instance", "=~", "$instance")]),
                  ("up", []), ("b_total", [("outcome", "=", "ok")])], got)


async def test_rules(h):
    """promtool check rules, its unit tests (every alert fires in one case
    and stays quiet in another) and check config of the example."""
    rc, out = promtool("check", "rules", RULES)
    check(rc == 0 and "SUCCESS" in out, f"promtool check rules:\n{out}")
    rc, out = promtool("test", "rules", RULE_TESTS)
    check(rc == 0 and "SUCCESS" in out, f"promtool test rules:\n{out}")
    rc, out = promtool("check", "config", PROM_CONFIG)
    check(rc == 0, f"promtool check config:\n{out}")
    names = {r.get("alert") for grp in yaml.safe_load(read(RULES))["groups"]
             for r in grp["rules"]}
    check(names == ALERTS, f"alerts {sorted(names)}, want {sorted(ALERTS)}")
    tested = {t["alertname"] for case in yaml.safe_load(read(RULE_TESTS))["tests"]
              for t in case["alert_rule_test"]}
    check(tested == ALERTS, f"alerts without unit tests: {ALERTS - tested}")
    for grp in yaml.safe_load(read(RULES))["groups"]:
        for r in grp["rules"]:
            check(r["labels"].get("severity") in ("critical", "warning"),
                  f"{r['alert']}: severity {r['labels'].get('severity')}")
            check({"summary", "description"} <= set(r["annotations"]),
                  f"{r['alert']}: summary and description wanted")
            check("$value" in r["annotations"]["description"],
                  f"{r['alert']}: its description does not give the value")


async def test_dashboard_shape(h):
    """The dashboard imports into Grafana 9.x and later: schema version,
    a Prometheus data source variable that every panel and query uses,
    unique panel ids, panels inside the 24-column grid."""
    dash = json.loads(read(DASHBOARD))
    check(dash["schemaVersion"] >= 36, f"schemaVersion {dash['schemaVersion']}")
    ds = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    check(len(ds) == 1 and ds[0]["query"] == "prometheus",
          f"one Prometheus data source variable wanted: {ds}")
    uid = "${" + ds[0]["name"] + "}"
    ids = [p["id"] for p in dash["panels"]]
    check(len(ids) == len(set(ids)), f"panel ids repeat: {ids}")
    for p in dash["panels"]:
        check(p["datasource"] == {"type": "prometheus", "uid": uid},
              f"panel {p['title']!r}: datasource {p['datasource']}")
        check(p["targets"], f"panel {p['title']!r} has no query")
        for t in p["targets"]:
            check(t["datasource"]["uid"] == uid, f"panel {p['title']!r}: "
                  f"query {t['refId']} on {t['datasource']}")
        g = p["gridPos"]
        check(g["x"] + g["w"] <= 24, f"panel {p['title']!r} wider than 24")


async def test_live_metrics(h):
    """A gateway and a worker run one request, so that counters and both
    histograms have samples; its /metrics passes promtool check metrics,
    and has every metric and label value the rules and the dashboard
    select. A copy of the files with one name misspelled is caught."""
    gw = await h.start()
    c = await h.client(gw)
    values = await c.run("sleep", [10, 20, 30])
    check(values == [10, 20, 30], f"results {values}")
    with urllib.request.urlopen(f"http://127.0.0.1:{gw.port}/metrics",
                                timeout=scaled(10)) as r:
        check(r.status == 200, f"/metrics: {r.status}")
        text = r.read().decode()
    series = parse_exposition(text)
    check(value(series, "sluice_items_total", outcome="ok") == 3,
          f"items ok: {series.get('sluice_items_total')}")
    for hist in ("sluice_item_latency_seconds", "sluice_forward_delay_seconds"):
        check(value(series, hist + "_count") == 3,
              f"{hist}_count: {series.get(hist + '_count')}")

    rc, out = promtool("check", "metrics", stdin=text)
    check(rc == 0 and not out.strip(),
          f"promtool check metrics (exit {rc}) on /metrics:\n{out}\n"
          f"---- /metrics ----\n{text}")

    rules = read(RULES)
    dash = json.loads(read(DASHBOARD))
    exprs = rule_exprs(rules) + dashboard_exprs(dash)
    problems = unknown_names(exprs, series)
    check(not problems, "names not in the gateway's /metrics:\n  "
                        + "\n  ".join(problems))

    # The check fails when a name is wrong: one misspelled metric in the
    # rules, one metric and one label value in the dashboard.
    bad = rule_exprs(rules.replace("sluice_workers_lost_total",
                                   "sluice_worker_lost_total"))
    check(unknown_names(bad, series) == [
        "rule SluiceWorkersLost: no metric sluice_worker_lost_total in "
        "/metrics"], unknown_names(bad, series))
    bad = dashboard_exprs(json.loads(
        json.dumps(dash).replace("sluice_item_latency_seconds_bucket",
                                 "sluice_item_latency_bucket")
        .replace('outcome=\\"ok\\"', 'outcome=\\"okay\\"')))
    problems = unknown_names(bad, series)
    check(any("no metric sluice_item_latency_bucket" in p for p in problems)
          and any('no outcome="okay"' in p for p in problems), problems)


if __name__ == "__main__":
    run([test_parser, test_rules, test_dashboard_shape, test_live_metrics])
