"""The live graph page in headless Chromium (Debian's `chromium` package), against `relayflow serve`.

Chromium loads /ui/executions/{id}, the page polls the API and draws the graph;
``--dump-dom`` after a virtual-time budget gives the DOM as the page left it.
Every task must be drawn with its status, runs and attempts, matching the API.
"""
from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .browser import require_chromium
from .conftest import Api

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()  # CI (.ci/run installs it) fails without it; elsewhere a loud skip

DEMO = """\
name: ui.demo
tasks:
  - {name: build, action: core.echo, input: {v: 1}, on_success: [unit_tests, lint]}
  - name: unit_tests
    action: core.fail
    input: {message: flaky suite}
    retry: {count: 1}
    on_failure: report
  - {name: lint, action: core.echo, input: {ok: true}, on_success: approve}
  - name: approve
    action: core.ask
    input: {prompt: "Ship <b>it</b>?"}
    on_success: ship
  - {name: report, action: core.noop}
  - {name: ship, action: core.echo, input: {shipped: true}}
"""


class Dom(HTMLParser):
    """The task nodes (SVG <g class="node">) and table rows of a dumped page, with their text."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, dict[str, str]] = {}
        self.rows: dict[str, dict[str, str]] = {}
        self.body: dict[str, str] = {}
        self._open: list[tuple[str, dict[str, str] | None]] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        target = None
        if tag == "g" and "node" in a.get("class", "").split():
            target = self.nodes.setdefault(a["data-task"], {**a, "text": ""})
        elif tag == "tr" and "data-task" in a:
            target = self.rows.setdefault(a["data-task"], {**a, "text": ""})
        self._open.append((tag, target))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, target in self._open:
            if target is not None:
                target["text"] += data + " "


def page(api: Api, eid: str, tmp_path: Path, budget_ms: int = 5000) -> Dom:
    profile = tmp_path / f"chromium-{eid[:8]}-{budget_ms}"
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         f"--virtual-time-budget={budget_ms}", "--dump-dom", f"{api.url}/ui/executions/{eid}"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = Dom()
    dom.feed(out.stdout)
    assert dom.body.get("data-state") == "ready", (dom.body, out.stdout[:2000])
    return dom


def assert_shows(dom: Dom, view: dict) -> None:
    """Every task of the API's view is drawn and listed with its status, runs and attempts."""
    assert list(dom.nodes) == [t["name"] for t in view["tasks"]]
    for task in view["tasks"]:
        node, row = dom.nodes[task["name"]], dom.rows[task["name"]]
        assert node["data-status"] == row["data-status"] == task["status"]
        assert (int(node["data-runs"]), int(node["data-attempts"])) == (len(task["runs"]), task["attempts"])
        shown = task["status"].replace("_", " ")
        assert task["name"] in node["text"] and shown in node["text"], node
        assert f"runs {len(task['runs'])}" in node["text"] and f"attempts {task['attempts']}" in node["text"]
        assert row["text"].split()[:1] == [task["name"]] and shown in row["text"], row
    assert dom.body["data-execution-status"] == view["status"]


def test_the_page_shows_every_task_with_its_status_runs_and_attempts(api, tmp_path):
    api.register(DEMO)
    eid = api.start("ui.demo")
    api.settle()
    view = api.get(f"/executions/{eid}/graph").body
    assert {t["name"]: t["status"] for t in view["tasks"]} == {
        "build": "succeeded", "unit_tests": "failed", "lint": "succeeded", "approve": "running",
        "report": "succeeded", "ship": "not_started"}
    dom = page(api, eid, tmp_path)
    assert_shows(dom, view)
    assert dom.nodes["unit_tests"]["data-attempts"] == "2"
    assert "flaky suite" in dom.rows["unit_tests"]["text"]  # the last error is listed
    assert dom.body["data-execution-status"] == "running"


def test_the_page_refreshes_while_the_execution_runs(api, tmp_path):
    api.register(DEMO)
    eid = api.start("ui.demo")
    api.settle()
    (inquiry,) = api.pending(eid)
    server, stack = api.server, api.server.stack
    graph_polls = []
    invoke = server.invoke

    def answer_on_the_second_poll(event):
        if event["path"].endswith(f"/executions/{eid}/graph"):
            graph_polls.append(event["path"])
            if len(graph_polls) == 2:  # the page has drawn the pending state once: now someone approves
                with server.lock:
                    stack.service.respond(inquiry["id"], {"ok": True})
                    stack.drain()
        return invoke(event)

    server.invoke = answer_on_the_second_poll
    try:
        dom = page(api, eid, tmp_path, budget_ms=8000)
    finally:
        server.invoke = invoke
    view = api.get(f"/executions/{eid}/graph").body
    assert view["status"] == "succeeded"
    assert_shows(dom, view)
    assert dom.nodes["ship"]["data-status"] == "succeeded"
    # it polled until the end, then stopped
    assert int(dom.body["data-polls"]) == len(graph_polls) >= 2


def test_the_page_of_an_unknown_execution_is_a_404(api):
    r = api.get("/ui/executions/nope")
    assert r.status == 404 and r.body["type"] == "NotFound"


@pytest.mark.parametrize("path", ["/", "/ui", "/ui/", "/ui/executions", "/ui/executions/"])
def test_the_addresses_a_user_types_serve_the_console(api, path):
    r = api.get(path)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<title>relayflow console</title>" in r.body
    assert api.get("/uix").status == 404  # only those: a near miss is still not found
