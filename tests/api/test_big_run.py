"""A new user finds, follows and acts on a running 1,000-item execution: in the console
(headless Chromium) and from the CLI, against `relayflow serve`.

Each item's action takes a few milliseconds and the task runs 20 items at a time,
so the run lasts long enough to be seen moving, paused, resumed and cancelled.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .browser import Browser, require_chromium
from .conftest import Api
from .test_console import shot

SCRIPT = Path(sys.executable).with_name("relayflow")
ITEMS = 1000

BIG = f"""\
name: big.items
tasks:
  - name: each
    action: "python:tests.api.test_big_run:tick"
    with_items: "{{{{ range({ITEMS}) | list }}}}"
    concurrency: 20
    input: {{i: "{{{{ item }}}}"}}
"""


def tick(payload):
    time.sleep(0.005)
    return {"i": payload["i"]}


@pytest.fixture
def browser(tmp_path):
    require_chromium()
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def items_of(page) -> tuple[int, int, int]:
    """(done, failed, running) as the graph's node for the task shows them."""
    text = page.text("#graph g.node[data-task='each'] text.items")
    m = re.match(r"(\d+)/(\d+) items, (\d+) failed, (\d+) running", text)
    assert m and int(m[2]) == ITEMS, text
    return int(m[1]), int(m[3]), int(m[4])


def test_find_follow_pause_resume_and_finish_a_1000_item_run_in_the_console(api: Api, browser):
    api.register(BIG)
    eid = api.start("big.items")
    # find it: the address a user types lands on the list, where it shows as running
    page = browser.open(api.url + "/")
    row = f"#executions tr[data-execution='{eid}']"
    page.wait(f"document.body.dataset.state === 'ready' && !!document.querySelector(\"{row}\")")
    assert page.attr(row, "data-status") == "running"
    shot(page, "big-list")
    page.click(f"{row} a")
    page.wait("document.body.dataset.view === 'execution' && document.body.dataset.state === 'ready'")
    assert page.js("location.pathname") == f"/ui/executions/{eid}"
    # follow it: the item counts move while it runs
    first = items_of(page)
    page.wait(f"(function () {{ var t = document.querySelector(\"#graph g.node[data-task='each'] text.items\"); "
              f"return t && +t.textContent.split('/')[0] > {first[0]}; }})()", timeout=60)
    assert first[0] < items_of(page)[0] < ITEMS
    # the long counts stay inside the node's box
    assert page.js("(function () { var n = document.querySelector(\"#graph g.node[data-task='each']\"); "
                   "var box = n.querySelector('rect.box').getBoundingClientRect(); "
                   "return Array.from(n.querySelectorAll('text')).every(function (t) { var b = t.getBoundingClientRect(); "
                   "return b.left >= box.left && b.right <= box.right; }); })()")
    shot(page, "big-running")
    # act: pause with a reason; the items in flight finish, no new one starts
    page.fill("#reason", "checking the output")
    page.click("#actions button[data-action=pause]")
    page.wait("document.body.dataset.executionStatus === 'paused'", timeout=60)
    page.wait("(function () { var t = document.querySelector(\"#graph g.node[data-task='each'] text.items\"); "
              "return t && / 0 running$/.test(t.textContent); })()", timeout=60)
    held = items_of(page)
    assert held[0] < ITEMS and "paused: checking the output" in page.text("#status")
    polls = int(page.js("document.body.dataset.polls"))
    page.wait(f"+document.body.dataset.polls >= {polls + 2}")  # two more refreshes: nothing moved
    assert items_of(page) == held
    shot(page, "big-paused")
    # resume: it runs to the end and the page shows the result
    page.click("#actions button[data-action=resume]")
    page.wait("document.body.dataset.executionStatus === 'succeeded'", timeout=300)
    assert items_of(page) == (ITEMS, 0, 0)
    assert page.attr("#graph g.node[data-task='each']", "data-status") == "succeeded"
    page.click("#graph g.node[data-task='each']")
    page.wait("!!document.querySelector('#detail-items')")
    assert "1000/1000 items: 1000 ok, 0 failed, 0 running" in page.text("#detail")
    assert page.js("document.querySelectorAll('#detail-items tr[data-item]').length") == 20
    assert page.js("Array.from(document.querySelectorAll('#detail-items tr[data-item]'))"
                   ".every(r => +r.dataset.duration >= 0.005)")  # each item's own time, its action's sleep in it
    shot(page, "big-done")
    view = api.execution(eid)
    assert view["status"] == "succeeded" and len(view["tasks"][0]["result"]) == ITEMS
    types = [e["type"] for e in api.get(f"/executions/{eid}/history").body["events"]]
    assert types.index("workflow.paused") < types.index("workflow.resumed") < types.index("workflow.succeeded")


def cli(api: Api, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *argv, "--api", api.url], capture_output=True, text=True, timeout=timeout)


def test_find_follow_and_cancel_a_1000_item_run_from_the_cli(api: Api):
    api.register(BIG)
    started = cli(api, "start", "big.items")
    assert started.returncode == 0, started.stderr
    eid = started.stdout.strip()
    # find it among the running executions
    listed = cli(api, "list", "--status", "running")
    assert listed.returncode == 0 and re.search(rf"^{eid}\s+big\.items\s+running\b", listed.stdout, re.M), listed.stdout
    # see how far it is
    status = cli(api, "status", eid)
    m = re.search(r"each \(run 1\) running, \d+ attempts?, (\d+)/1000 items done: \d+ succeeded, 0 failed, "
                  r"(\d+) running", status.stdout)
    assert m and int(m[1]) < ITEMS and 0 < int(m[2]) <= 20, status.stdout
    # follow it: watch prints each change of the counts, until it ends
    watch = subprocess.Popen([str(SCRIPT), "watch", eid, "--interval", "0.2", "--api", api.url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        counts = []
        for line in watch.stdout:
            found = re.search(r"(\d+)/1000 items done", line)
            if found:
                counts.append(int(found[1]))
            if len(counts) >= 3 and counts[-1] > counts[0]:
                break
        # act: cancel it with a reason; watch sees it end
        cancelled = cli(api, "cancel", eid, "--reason", "wrong input")
        assert cancelled.returncode == 0 and cancelled.stdout.strip() == f"cancel requested for execution {eid}"
        rest, err = watch.communicate(timeout=120)
    finally:
        watch.kill()
    assert watch.returncode == 1, err  # run's codes: 1 when it did not succeed
    assert rest.rstrip().splitlines()[-1] == f"big.items cancelled: wrong input (execution {eid})"
    status = cli(api, "status", eid)
    assert status.stdout.splitlines()[0] == f"workflow big.items cancelled: wrong input (execution {eid})"
    done = int(re.search(r"(\d+)/1000 items done", status.stdout)[1])
    assert counts[-1] <= done < ITEMS  # it stopped before the end
