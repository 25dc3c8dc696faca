"""The console (/ui, /ui/executions/{id}) in headless Chromium, against `relayflow serve`.

Each view is loaded the way a person opens it and each action is done the way a
person does it (clicking buttons, filling the approval form); what the page then
shows, and what the API then says, are both checked. The graph's geometry is
read back from the rendered page: no two node boxes or edge labels overlap, no
label's text spills out of its box, and no edge runs through a node it does not
join.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .browser import Browser, Page, require_chromium
from .conftest import Api

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHOTS = os.environ.get("RELAYFLOW_SCREENSHOTS")  # a folder: save each view's screenshot there

APPROVAL = """\
name: c.approval
tasks:
  - {name: build, action: core.echo, input: {image: "web:1"}, on_success: approve}
  - name: approve
    action: core.ask
    input:
      prompt: Ship it?
      schema:
        type: object
        required: [approved, by]
        properties:
          approved: {type: boolean}
          by: {type: string, minLength: 1}
          replicas: {type: integer, minimum: 1}
    next:
      - when: "{{ succeeded() and result().approved }}"
        do: ship
      - when: "{{ succeeded() and not result().approved }}"
        do: stop
  - {name: ship, action: core.echo, input: {by: "{{ task.approve.result.by }}"}}
  - {name: stop, action: core.noop}
output: {by: "{{ task.approve.result.by }}"}
"""

ITEMS = """\
name: c.items
tasks:
  - name: each
    action: core.fail
    with_items: "{{ range(30) | list }}"
    concurrency: 7
    input: {message: "item {{ item }} broke", succeed_on_attempt: "{{ 99 if item % 10 == 3 else 1 }}"}
"""

FAILING = """\
name: c.failing
tasks:
  - {name: first, action: core.echo, input: {v: 1}, on_success: second}
  - {name: second, action: core.fail, input: {message: disk full}}
"""

QUICK = "name: c.quick\ntasks:\n  - {name: only, action: core.echo, input: {v: 1}}\n"


@pytest.fixture
def browser(tmp_path):
    require_chromium()
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(Path(SHOTS) / f"{name}.png")


def execution_page(api: Api, browser: Browser, eid: str) -> Page:
    page = browser.open(f"{api.url}/ui/executions/{eid}")
    page.wait("document.body.dataset.state === 'ready' && document.body.dataset.view === 'execution'")
    return page


GEOMETRY = """
(function () {
  var svg = document.getElementById('graph'), ctm = svg.getScreenCTM();
  var boxes = [], overlaps = [], spills = [], crossings = [];
  document.querySelectorAll('#graph g.node rect.box').forEach(function (r) {
    var b = r.getBoundingClientRect();
    boxes.push({what: 'node ' + r.parentNode.dataset.task, task: r.parentNode.dataset.task,
                l: b.left, t: b.top, r: b.right, b: b.bottom});
  });
  document.querySelectorAll('#graph g.edge-label').forEach(function (g) {
    var rect = g.querySelector('rect').getBoundingClientRect(), text = g.querySelector('text').getBoundingClientRect();
    boxes.push({what: 'label ' + g.dataset.from + '->' + g.dataset.to + ' ' + g.textContent,
                l: rect.left, t: rect.top, r: rect.right, b: rect.bottom});
    if (text.left < rect.left - 0.5 || text.right > rect.right + 0.5) { spills.push(g.textContent); }
  });
  for (var i = 0; i < boxes.length; i++) {
    for (var j = i + 1; j < boxes.length; j++) {
      var a = boxes[i], c = boxes[j];
      if (a.l < c.r && c.l < a.r && a.t < c.b && c.t < a.b) { overlaps.push(a.what + ' / ' + c.what); }
    }
  }
  function hits(x1, y1, x2, y2, n) {  // Liang-Barsky: does the segment enter the box (shrunk by 2 px)?
    var l = n.l + 2, r = n.r - 2, t = n.t + 2, b = n.b - 2, t0 = 0, t1 = 1, dx = x2 - x1, dy = y2 - y1;
    var p = [-dx, dx, -dy, dy], q = [x1 - l, r - x1, y1 - t, b - y1];
    for (var k = 0; k < 4; k++) {
      if (p[k] === 0) { if (q[k] < 0) return false; continue; }
      var u = q[k] / p[k];
      if (p[k] < 0) { if (u > t1) return false; if (u > t0) t0 = u; } else { if (u < t0) return false; if (u < t1) t1 = u; }
    }
    return true;
  }
  document.querySelectorAll('#graph path.edge').forEach(function (e) {
    var pts = JSON.parse(e.dataset.points).map(function (p) { return [p[0] * ctm.a + ctm.e, p[1] * ctm.d + ctm.f]; });
    boxes.forEach(function (n) {
      if (!n.task || n.task === e.dataset.from || n.task === e.dataset.to) return;
      for (var k = 0; k + 1 < pts.length; k++) {
        if (hits(pts[k][0], pts[k][1], pts[k + 1][0], pts[k + 1][1], n)) {
          crossings.push(e.dataset.from + '->' + e.dataset.to + ' through ' + n.task); break;
        }
      }
    });
  });
  return {nodes: document.querySelectorAll('#graph g.node').length,
          labels: document.querySelectorAll('#graph g.edge-label').length,
          overlaps: overlaps, spills: spills, crossings: crossings};
})()
"""


def assert_clean_graph(page: Page, tasks: int) -> dict:
    geometry = page.js(GEOMETRY)
    assert geometry["nodes"] == tasks
    assert geometry["overlaps"] == [], geometry["overlaps"]
    assert geometry["spills"] == [], geometry["spills"]
    assert geometry["crossings"] == [], geometry["crossings"]
    return geometry


# -- the executions list -----------------------------------------------------------------
def test_the_list_filters_by_workflow_and_status_and_pages(api, browser):
    api.register(QUICK)
    api.register(FAILING)
    quick = [api.start("c.quick") for _ in range(3)]
    failing = [api.start("c.failing") for _ in range(2)]
    api.settle()
    page = browser.open(f"{api.url}/ui")
    page.wait("document.body.dataset.view === 'list' && document.body.dataset.state === 'ready'")
    shot(page, "list")
    listed = page.js("Array.from(document.querySelectorAll('#executions tr[data-execution]')).map(r => r.dataset.execution)")
    assert sorted(listed) == sorted(quick + failing)
    # each row links to its execution's page and shows its error
    row = f"#executions tr[data-execution='{failing[0]}']"
    assert page.attr(row, "data-status") == "failed" and "disk full" in page.text(row)
    assert page.attr(f"{row} a", "href").endswith(f"/ui/executions/{failing[0]}")

    page.fill("#f-workflow", "c.quick")
    page.wait("document.querySelectorAll('#executions tr[data-execution]').length === 3")
    assert set(page.js("Array.from(document.querySelectorAll('#executions tr[data-execution]'))"
                       ".map(r => r.dataset.execution)")) == set(quick)
    page.fill("#f-workflow", "")
    page.fill("#f-status", "failed")
    page.wait("document.querySelectorAll('#executions tr[data-execution]').length === 2")
    assert set(page.js("Array.from(document.querySelectorAll('#executions tr[data-execution]'))"
                       ".map(r => r.dataset.execution)")) == set(failing)

    page.fill("#f-status", "")
    page.fill("#f-limit", "10")
    page.js("document.getElementById('f-limit').innerHTML += '<option>2</option>'")
    page.fill("#f-limit", "2")
    page.wait("document.querySelectorAll('#executions tr[data-execution]').length === 2 && "
              "document.body.dataset.hasNext === 'yes'")
    seen = page.js("Array.from(document.querySelectorAll('#executions tr[data-execution]')).map(r => r.dataset.execution)")
    while page.attr("#next-page", "disabled") is None:
        before = seen[-1]
        page.click("#next-page")
        page.wait(f"!document.querySelector(\"#executions tr[data-execution='{before}']\")")
        seen += page.js("Array.from(document.querySelectorAll('#executions tr[data-execution]'))"
                        ".map(r => r.dataset.execution)")
    assert sorted(seen) == sorted(quick + failing)  # every execution once, over three pages
    page.click("#first-page")
    page.wait(f"!!document.querySelector(\"#executions tr[data-execution='{seen[0]}']\")")


# -- one execution ------------------------------------------------------------------------
def test_the_execution_page_shows_graph_tasks_timeline_history_and_run_details(api, browser):
    api.register(FAILING)
    eid = api.start("c.failing")
    api.settle()
    page = execution_page(api, browser, eid)
    view = api.get(f"/executions/{eid}/graph").body
    history = api.get(f"/executions/{eid}/history").body["events"]
    assert page.js("document.body.dataset.executionStatus") == "failed"
    assert "disk full" in page.text("#execution-error")
    nodes = page.js("Array.from(document.querySelectorAll('#graph g.node')).map(n => [n.dataset.task, n.dataset.status])")
    assert nodes == [[t["name"], t["status"]] for t in view["tasks"]]
    assert_clean_graph(page, len(view["tasks"]))
    # timeline: one row per run, in start order; history: one row per event
    assert page.js("Array.from(document.querySelectorAll('#timeline tr[data-run]')).map(r => r.dataset.run)") == \
        ["first/1", "second/1"]
    assert page.js("Array.from(document.querySelectorAll('#history tr[data-event]')).map(r => r.dataset.event)") == \
        [e["type"] for e in history]
    assert '"input"' in page.text("#history tr[data-event='workflow.started']")
    # the detail panel of a run: input, result, error, timings, attempts
    page.click("#graph g.node[data-task='first']")
    page.wait("document.getElementById('detail').dataset.task === 'first'")
    detail = page.text("#detail")
    assert '"v": 1' in detail and "1 attempt" in detail and "took" in detail
    page.click("#timeline tr[data-run='second/1'] a")
    page.wait("document.getElementById('detail').dataset.task === 'second'")
    assert "disk full" in page.text("#detail-error")
    shot(page, "execution-failed")


def test_items_progress_and_paged_item_details(api, browser):
    api.register(ITEMS)
    eid = api.start("c.items")
    api.settle()
    page = execution_page(api, browser, eid)
    assert "30/30 items, 3 failed, 0 running" in page.text("#graph g.node[data-task='each']")
    assert "30/30 items: 27 ok, 3 failed" in page.text("#tasks tr[data-task='each']")
    page.click("#graph g.node[data-task='each']")
    page.wait("!!document.querySelector('#detail-items')")
    shot(page, "execution-items")
    assert page.js("Array.from(document.querySelectorAll('#detail-items tr[data-item]')).map(r => +r.dataset.item)") == \
        list(range(20))
    assert page.attr("#detail-items tr[data-item='3']", "data-status") == "failed"
    assert "item 3 broke" in page.text("#detail-items tr[data-item='3']")
    assert '{"message":"item 4 broke","succeed_on_attempt":1}' in page.text("#detail-items tr[data-item='4']")
    page.click("#items-next")
    page.wait("!!document.querySelector(\"#detail-items tr[data-item='29']\")")
    assert page.js("Array.from(document.querySelectorAll('#detail-items tr[data-item]')).map(r => +r.dataset.item)") == \
        list(range(20, 30))
    assert page.attr("#items-next", "disabled") is not None
    assert page.attr("#detail-items tr[data-item='23']", "data-status") == "failed"


# -- actions --------------------------------------------------------------------------------
def test_the_approval_form_is_built_from_the_schema_and_answers_it(api, browser):
    api.register(APPROVAL)
    eid = api.start("c.approval")
    api.settle()
    (inquiry,) = api.pending(eid)
    page = execution_page(api, browser, eid)
    form = f"form[data-inquiry='{inquiry['id']}']"
    page.wait(f"!!document.querySelector(\"{form}\")")
    kinds = page.js(f"Array.from(document.querySelectorAll(\"{form} [name]\")).map(e => [e.name, e.type])")
    assert kinds == [["approved", "checkbox"], ["by", "text"], ["replicas", "number"]]
    shot(page, "execution-approval")
    # a wrong answer is refused by the API and the reason shown; nothing is answered
    page.fill(f"{form} [name=approved]", True)
    page.click(f"{form} button[type=submit]")
    page.wait(f"document.querySelector(\"{form} .form-error\").textContent.length > 0")
    assert "schema" in page.text(f"{form} .form-error")
    assert api.pending(eid) == [inquiry]
    page.fill(f"{form} [name=by]", "ana")
    page.fill(f"{form} [name=replicas]", "3")
    page.click(f"{form} button[type=submit]")
    page.wait("document.body.dataset.message === 'answered approve'")
    api.settle()
    assert api.get(f"/inquiries/{inquiry['id']}").body["response"] == {"approved": True, "by": "ana", "replicas": 3}
    assert api.execution(eid)["output"] == {"by": "ana"}
    page.wait("document.body.dataset.executionStatus === 'succeeded'")
    assert page.attr("#graph g.node[data-task='ship']", "data-status") == "succeeded"
    assert page.js(f"!document.querySelector(\"{form}\")")  # answered: the form is gone


def test_pause_resume_and_cancel_buttons_with_a_reason(api, browser):
    api.register(APPROVAL)
    eid = api.start("c.approval")
    api.settle()
    page = execution_page(api, browser, eid)
    enabled = "Array.from(document.querySelectorAll('#actions button')).filter(b => !b.disabled).map(b => b.dataset.action)"
    assert page.js(enabled) == ["pause", "cancel"]
    page.fill("#reason", "change freeze")
    page.click("#actions button[data-action=pause]")
    page.wait("document.body.dataset.message === 'pause requested'")
    api.settle()
    page.wait("document.body.dataset.executionStatus === 'paused'")
    assert api.get(f"/executions/{eid}/graph").body["reason"] == "change freeze"
    assert "paused: change freeze" in page.text("#status")
    assert page.js(enabled) == ["resume", "cancel"]
    page.fill("#reason", "")
    page.click("#actions button[data-action=resume]")
    api.settle()
    page.wait("document.body.dataset.executionStatus === 'running'")
    page.fill("#reason", "not today")
    page.click("#actions button[data-action=cancel]")
    api.settle()
    page.wait("document.body.dataset.executionStatus === 'cancelled'")
    assert api.execution(eid)["status"] == "cancelled"
    assert "cancelled: not today" in page.text("#status")
    assert page.js(enabled) == []
    types = [e["type"] for e in api.get(f"/executions/{eid}/history").body["events"]]
    assert types[-1] == "workflow.cancelled" and "workflow.paused" in types and "workflow.resumed" in types


def test_the_redrive_button_reruns_a_failed_execution(api, browser):
    api.register(FAILING)
    eid = api.start("c.failing")
    api.settle()
    page = execution_page(api, browser, eid)
    assert page.attr("#actions button[data-action=redrive]", "disabled") is None
    page.click("#actions button[data-action=redrive]")
    page.wait("document.body.dataset.message === 'redrive requested'")
    api.settle()
    runs = {(t["name"], r["run"]) for t in api.get(f"/executions/{eid}/graph").body["tasks"] for r in t["runs"]}
    assert ("second", 2) in runs and ("first", 2) not in runs  # only the failed run again
    page.wait("document.querySelectorAll('#timeline tr[data-run]').length === 3")
    assert "workflow.redriven" in page.texts("#history td")


def test_an_action_the_api_refuses_shows_why(api, browser):
    api.register(QUICK)
    eid = api.start("c.quick")
    api.settle()
    page = execution_page(api, browser, eid)
    page.js("document.querySelector('#actions button[data-action=cancel]').disabled = false")  # a stale page
    page.click("#actions button[data-action=cancel]")
    page.wait("!document.getElementById('error').hidden")
    assert "already ended" in page.text("#error")


# -- the graph's geometry on the examples ----------------------------------------------------
@pytest.mark.parametrize("example", ["deploy_approval.yaml", "deploy.yaml", "incident.yaml", "release.yaml"])
def test_no_node_or_label_overlaps_and_no_edge_crosses_a_node(api, browser, example):
    text = (EXAMPLES / example).read_text()
    name = api.register(text)["name"]
    workflow = api.get(f"/workflows/{name}").body
    r = api.post(f"/workflows/{name}/executions", {"input": {}})
    assert r.status == 201, r.body
    page = execution_page(api, browser, r.body["execution_id"])
    geometry = assert_clean_graph(page, len(workflow["tasks"]))
    assert geometry["labels"] == sum(1 for e in workflow["edges"] if e["label"])
    if example == "deploy_approval.yaml":
        shot(page, "execution-deploy-approval")


def test_the_geometry_check_sees_an_overlap(api, browser):
    """The check above is real: move one node onto another and it reports it."""
    api.register((EXAMPLES / "deploy.yaml").read_text())
    eid = api.start("demo.deploy")
    page = execution_page(api, browser, eid)
    page.js("(function () { var n = document.querySelectorAll('#graph g.node'); "
            "n[1].setAttribute('transform', n[0].getAttribute('transform')); })()")
    assert page.js(GEOMETRY)["overlaps"]


# -- the addresses a user types --------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/ui/executions"])
def test_the_root_and_the_executions_address_open_the_list(api, browser, path):
    api.register(QUICK)
    eid = api.start("c.quick")
    api.settle()
    page = browser.open(api.url + path)
    page.wait("document.body.dataset.view === 'list' && document.body.dataset.state === 'ready'")
    assert page.js("location.pathname") == "/ui"  # one address for the list, whatever was typed
    assert page.js("Array.from(document.querySelectorAll('#executions tr[data-execution]'))"
                   ".map(r => r.dataset.execution)") == [eid]
    assert page.attr(f"#executions tr[data-execution='{eid}'] a", "href") == f"/ui/executions/{eid}"


def test_a_deep_link_to_an_execution_works_on_reload(api, browser):
    api.register(FAILING)
    eid = api.start("c.failing")
    api.settle()
    page = execution_page(api, browser, eid)
    page.click("#graph g.node[data-task='second']")
    page.wait("document.getElementById('detail').dataset.task === 'second'")
    page.js("location.reload()")
    page.wait("document.body.dataset.state === 'ready' && document.body.dataset.view === 'execution' && "
              "!document.getElementById('detail').dataset.task")
    assert page.js("location.pathname") == f"/ui/executions/{eid}"
    assert page.js("document.body.dataset.executionStatus") == "failed"
    assert page.attr("#graph g.node[data-task='second']", "data-status") == "failed"
    assert page.js("document.querySelector('a.home').getAttribute('href')") == "/ui"


# -- timings per attempt and per item --------------------------------------------------------
TIMED = """\
name: c.timed
tasks:
  - name: flaky
    action: core.fail
    input: {message: not yet, succeed_on_attempt: 3}
    retry: {count: 2, delay: 0.2}
    on_success: each
  - name: each
    action: core.fail
    with_items: "{{ range(3) | list }}"
    input: {message: "item {{ item }} broke", succeed_on_attempt: "{{ 2 if item == 1 else 1 }}"}
    retry: {count: 1, delay: 0.2}
"""


def test_the_panel_and_the_timeline_show_each_attempt_and_item_with_its_timings(api, browser):
    api.register(TIMED)
    eid = api.start("c.timed")
    page = execution_page(api, browser, eid)
    page.wait("document.body.dataset.executionStatus === 'succeeded'")
    flaky, each = api.execution(eid)["tasks"]
    # the timeline draws each attempt of the single-unit run inside its run's bar
    assert page.js("Array.from(document.querySelectorAll(\"#timeline tr[data-run='flaky/1'] b.try\"))"
                   ".map(b => b.dataset.attempt + ' ' + b.className)") == \
        ["1 try s-failed", "2 try s-failed", "3 try s-succeeded"]
    page.click("#graph g.node[data-task='flaky']")
    page.wait("!!document.querySelector('#detail-attempts')")
    rows = page.js("Array.from(document.querySelectorAll('#detail-attempts tr[data-attempt]'))"
                   ".map(r => [+r.dataset.attempt, r.dataset.status, +r.dataset.duration, r.querySelector('.took').textContent])")
    assert [r[:3] for r in rows] == [[a["attempt"], a["status"], a["duration"]] for a in flaky["attempt_timings"]]
    assert all(r[3].endswith(" s") for r in rows)
    page.click("#graph g.node[data-task='each']")
    page.wait("!!document.querySelector('#detail-items')")
    shot(page, "execution-item-timings")
    units = api.get(f"/executions/{eid}/runs/each/1").body["units"]
    items = page.js("Array.from(document.querySelectorAll('#detail-items tr[data-item]'))"
                    ".map(r => [+r.dataset.item, +r.dataset.duration, r.querySelectorAll('b.try').length])")
    assert items == [[u["index"], u["duration"], len(u["attempt_timings"])] for u in units]
    assert [i[2] for i in items] == [1, 2, 1]  # the retried item shows both its attempts
