#!/usr/bin/python3
"""The console pages and a drift report in headless Chromium: DOM assertions and screenshots.

  check_pages.py --base http://127.0.0.1:PORT --report FILE --drift-json FILE --out DIR

One Chromium drives every console page over the DevTools protocol on a pipe
(--remote-debugging-pipe: no port, no websocket library), with page scripts disabled (the console
needs none) and a phone-sized viewport (390 x 844). It starts at /ui and follows the console's
own links to reach a model, a version, its run, the study, a comparison (the runs list's compare
form, as a browser submits it), the flows, a flow run, the reports and the live drift; for each it
checks the rendered DOM (parsed with html.parser) and saves the whole page, 390 px wide, as
DIR/NN-name.png. A second Chromium opens the report from file:// with the network disabled (unresolvable hosts, a
dead proxy) and checks that it rendered fully: every feature's table row and chart, and no
request for anything but the file itself.

Exit status: 0 when every check passed, 1 otherwise (each failure printed).
"""

import argparse
import base64
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
NAV = ["/ui/models", "/ui/runs", "/ui/flows", "/ui/reports", "/ui/drift"]
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print(f"  FAIL {what}", flush=True)
    return condition


class Chromium:
    """One headless Chromium spoken to over --remote-debugging-pipe (fds 3 and 4)."""

    def __init__(self, extra_flags=()):
        self.profile = tempfile.mkdtemp(prefix="churn-chromium-")
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        # Out of the way of 3 and 4, which the child needs.
        cmd_r, res_w = (os.dup(fd) if fd < 5 else fd for fd in (cmd_r, res_w))
        # Chromium finds its end of the pipe at fds 3 (commands) and 4 (answers).
        def child_fds():
            os.dup2(cmd_r, 3)
            os.dup2(res_w, 4)

        binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or "chromium"
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--hide-scrollbars", *extra_flags, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=child_fds)
        self.to_browser = os.fdopen(cmd_w, "wb", buffering=0)
        self.from_browser = os.fdopen(res_r, "rb", buffering=0)
        os.close(cmd_r)
        os.close(res_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for method, params in [("Page.enable", {}), ("Network.enable", {}),
                               ("Emulation.setDeviceMetricsOverride", PHONE),
                               ("Emulation.setScriptExecutionDisabled", {"value": True})]:
            self.call(method, params, self.session)

    def close(self):
        try:
            self.call("Browser.close", {})
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # only the process this object started
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = self.from_browser.read(65536)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.to_browser.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, method, timeout=30):
        """The first `method` event since the events were last cleared (they stay)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._read_message(deadline))

    def open(self, url):
        """Loads `url`; returns (status, outer HTML, requested URLs, content width)."""
        self.events.clear()
        self.call("Page.navigate", {"url": url}, self.session)
        self.wait_event("Page.loadEventFired")
        requests = [e["params"]["request"]["url"] for e in self.events
                    if e.get("method") == "Network.requestWillBeSent"]
        statuses = [e["params"]["response"]["status"] for e in self.events
                    if e.get("method") == "Network.responseReceived"
                    and e["params"].get("type") == "Document"]
        root = self.call("DOM.getDocument", {"depth": 0}, self.session)["root"]["nodeId"]
        dom = self.call("DOM.getOuterHTML", {"nodeId": root}, self.session)["outerHTML"]
        metrics = self.call("Page.getLayoutMetrics", {}, self.session)
        width = metrics.get("cssContentSize", metrics.get("contentSize", {})).get("width", 0)
        return (statuses[0] if statuses else None), dom, requests, width

    def screenshot(self, path, max_height=8000):
        """The whole page at phone width (at most `max_height` px tall), as a PNG."""
        metrics = self.call("Page.getLayoutMetrics", {}, self.session)
        size = metrics.get("cssContentSize", metrics.get("contentSize", {}))
        height = min(max(size.get("height", PHONE["height"]), PHONE["height"]), max_height)
        clip = {"x": 0, "y": 0, "width": PHONE["width"], "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot",
                         {"format": "png", "clip": clip, "captureBeyondViewport": True},
                         self.session)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


class Dom(html.parser.HTMLParser):
    """What the checks look at: elements with their attributes and classes, texts, links."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements = []  # (tag, attrs dict)
        self.texts = []
        self.title = ""
        self._in = []
        self.feed(text)

    VOID = {"meta", "link", "input", "br", "img", "hr", "wbr", "source", "area", "base", "col"}

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self._in.append(tag)

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data):
        if self._in[-2:] == ["head", "title"]:  # not the <title> tooltips of the charts
            self.title += data
        if not (self._in and self._in[-1] in ("style", "script")):
            self.texts.append(data)

    def all(self, tag, css=None):
        return [a for t, a in self.elements
                if t == tag and (css is None or css in (a.get("class") or "").split())]

    def links(self, prefix=""):
        return [a["href"] for t, a in self.elements
                if t == "a" and a.get("href", "").startswith(prefix)]

    def text(self):
        return " ".join(self.texts)


def common_checks(name, dom, requests, width, url):
    check(dom.title.endswith("· churn"), f"{name}: title '{dom.title}'")
    check(all(link in dom.links() for link in NAV), f"{name}: the navigation links every section")
    check(dom.all("meta") and any(m.get("name") == "viewport" for m in dom.all("meta")),
          f"{name}: viewport meta")
    check(not dom.all("script"), f"{name}: no <script>")
    text = dom.text()
    for bad in (r"\bundefined\b", r"\bNaN\b", r"\bnan\b", r"\binf\b"):
        check(not re.search(bad, text), f"{name}: '{bad}' in the text")
    check(requests == [url], f"{name}: requested only the page itself, got {requests}")
    check(width <= PHONE["width"] + 1,
          f"{name}: fits a {PHONE['width']} px screen (content {width} px wide)")
    external = [h for h in dom.links() if re.match(r"^[a-z]+:", h)]
    check(not external, f"{name}: no link leaves the server ({external})")


class Console:
    def __init__(self, browser, base, out):
        self.browser, self.base, self.out = browser, base, out
        self.count = 0
        self.seen = {}

    def page(self, name, path):
        url = urllib.parse.urljoin(self.base, path)
        started = time.monotonic()
        status, html_text, requests, width = self.browser.open(url)
        self.count += 1
        shot = os.path.join(self.out, f"{self.count:02d}-{name}.png")
        self.browser.screenshot(shot)
        dom = Dom(html_text)
        print(f"{name}: {path} -> {status}, {len(html_text)} bytes, "
              f"{time.monotonic() - started:.2f} s, {shot}", flush=True)
        check(status == 200, f"{name}: status {status}")
        if name != "reports-index":
            common_checks(name, dom, requests, width, url)
        self.seen[name] = dom
        return dom


def first(links, what):
    if not check(links, f"a link to {what}"):
        raise SystemExit(report_failures())
    return links[0]


def check_console(console, drift):
    overview = console.page("overview", "/ui")
    if not overview.all("nav"):
        print("  (no console at /ui: is console::AddConsoleRoutes mounted by churn serve http?)")
        raise SystemExit(report_failures())
    check(len(overview.all("section", "card")) == 5, "overview: five cards")
    models = console.page("models", first(overview.links("/ui/models"), "the models"))
    model = console.page("model", first(
        [h for h in models.links("/ui/models/") if "/versions/" not in h], "a model"))
    check(len(model.all("tr")) >= 4, "model: versions and alias history rows")
    check("production" in model.text() and "candidate" in model.text(),
          "model: the production and candidate aliases")
    version = console.page("version", first(model.links("/ui/models/churn/versions/"), "a version"))
    run = console.page("run", first(version.links("/ui/runs/"), "the version's run"))
    check(len(run.all("svg")) >= 1, "run: a metric history chart")
    check(len(run.all("polyline")) >= 1, "run: the history drawn")
    study = console.page("study", first(run.links("/ui/studies/"), "the run's study"))
    trials = len(study.all("tr")) - 1
    check(trials == 4, f"study: four trials in the table (got {trials})")
    check(len(study.all("svg")) == 3, "study: two scatters and the progress chart")
    check(len(study.all("circle", "pt")) == 2 * trials, "study: one point per trial per scatter")
    check(len(study.all("circle", "front")) >= 2, "study: the front highlighted")
    check(len(study.all("tr", "front")) >= 1, "study: front rows marked")
    runs = console.page("runs", "/ui/runs")
    form = [a for a in runs.all("form") if a.get("action") == "/ui/compare"]
    check(form and form[0].get("method") == "get", "runs: a GET form to /ui/compare")
    boxes = [a["value"] for a in runs.all("input") if a.get("name") == "run"]
    check(len(boxes) >= 5, f"runs: a compare checkbox per run (got {len(boxes)})")
    compare = console.page("compare", "/ui/compare?" + urllib.parse.urlencode(
        [("run", boxes[0]), ("run", boxes[1])]))
    check(len(compare.all("tr", "diff")) >= 1, "compare: differing rows marked")
    flows = console.page("flows", "/ui/flows")
    check("report" in flows.text() and "train" in flows.text(), "flows: the declared flows")
    check("Completed" in flows.text(), "flows: the completed report run")
    flow_run = console.page("flow-run", first(flows.links("/ui/flows/runs/"), "a flow run"))
    logs = flow_run.all("pre", "log")
    check(logs, "flow run: its log")
    reports = console.page("reports", "/ui/reports")
    report_links = reports.links("/reports/report-")
    check(report_links, "reports: a link per report")
    index = console.page("reports-index", "/reports/")
    check(any(h.startswith("report-") for h in index.links()), "the /reports/ index lists reports")
    live = console.page("drift", "/ui/drift")
    expected = len(next((w.get("columns", []) for w in drift.get("windows", [])
                         if w.get("computed")), []))
    rows = len(live.all("tr", "feature"))
    check(expected > 0, "GET /drift has a computed window")
    check(rows == expected, f"drift: {expected} feature rows (got {rows})")
    check(len(live.all("svg")) == 1, "drift: the drift map")


def check_offline_report(path, out):
    """The report from file:// with no network at all: every feature of its sidecar drawn."""
    with open(re.sub(r"\.html$", ".json", path), encoding="utf-8") as f:
        columns = json.load(f)["dataset"]["columns"]
    browser = Chromium(["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"])
    try:
        url = "file://" + os.path.abspath(path)
        _, html_text, requests, width = browser.open(url)
        shot = os.path.join(out, "99-report-offline.png")
        browser.screenshot(shot)
    finally:
        browser.close()
    dom = Dom(html_text)
    figures = dom.all("figure", "feature")
    print(f"report (offline): {len(html_text)} bytes, {len(figures)} feature charts for "
          f"{columns} features, {shot}", flush=True)
    check(set(requests) <= {url}, f"report: requested only the file ({requests})")
    check(columns >= 19, f"report: the 19 features monitored (sidecar says {columns})")
    check(len(figures) == columns, f"report: a chart per feature ({len(figures)} of {columns})")
    rows = len(dom.all("tr", "feature"))
    check(rows == columns, f"report: a table row per feature ({rows} of {columns})")
    check(len(dom.all("svg")) == columns + 1, "report: every feature chart and the score chart")
    check(dom.all("figure", "scores"), "report: the score distribution")
    check(width <= PHONE["width"] + 1, f"report: fits a phone screen ({width} px)")
    check(not dom.all("script") and not dom.all("link") and not dom.all("img"),
          "report: no script, stylesheet link or image")
    check(not re.search(r"\bundefined\b|\bNaN\b|\bnan\b", dom.text()), "report: no NaN text")


def report_failures():
    if FAILURES:
        print(f"check_pages: {len(FAILURES)} check(s) failed:", file=sys.stderr)
        for f in FAILURES:
            print(f"  {f}", file=sys.stderr)
        return 1
    print("check_pages: every check passed")
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--drift-json", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(args.drift_json, encoding="utf-8") as f:
        drift = json.load(f)
    browser = Chromium()
    try:
        check_console(Console(browser, args.base, args.out), drift)
    finally:
        browser.close()
    check_offline_report(args.report, args.out)
    return report_failures()


if __name__ == "__main__":
    sys.exit(main())
