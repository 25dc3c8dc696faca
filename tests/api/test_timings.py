"""Timings per run, per with_items item and per attempt: kept on the records the steps write
anyway, shown by ``GET /executions/{id}``, the run's detail page (items paged) and
``relayflow status --json``, on the memory backend and on the embedded AWS stack."""
from __future__ import annotations

import json
import time

import pytest

from relayflow import cli

DELAY = 0.3  # the retry delay: consecutive attempts must be at least this far apart

TIMED = f"""\
name: t.timed
tasks:
  - name: flaky
    action: core.fail
    input: {{message: not yet, succeed_on_attempt: 3}}
    retry: {{count: 2, delay: {DELAY}}}
    on_success: each
  - name: each
    action: core.fail
    with_items: "{{{{ range(4) | list }}}}"
    input: {{message: "item {{{{ item }}}} broke", succeed_on_attempt: "{{{{ 2 if item == 1 else 1 }}}}"}}
    retry: {{count: 1, delay: {DELAY}}}
"""


@pytest.fixture(params=["memory", "local"])
def either(request):
    return request.getfixturevalue("api" if request.param == "memory" else "local_api")


def ended(api, eid: str, timeout: float = 120.0) -> dict:
    """The execution once it ended (its retries wait on real-time timers, which settle() does not)."""
    deadline = time.monotonic() + timeout
    while True:
        api.settle()
        view = api.execution(eid)
        if view["status"] != "running" or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def assert_attempts(timings: list[dict], statuses: list[str], started: float, finished: float) -> None:
    assert [a["status"] for a in timings] == statuses
    assert [a["attempt"] for a in timings] == list(range(1, len(statuses) + 1))
    for a in timings:
        assert started <= a["started_at"] <= a["finished_at"] <= finished
        assert a["duration"] == round(a["finished_at"] - a["started_at"], 6)
    for before, after in zip(timings, timings[1:], strict=False):  # the retry delay lies between two attempts
        assert after["started_at"] - before["finished_at"] >= DELAY - 0.01


def test_runs_items_and_attempts_keep_their_timings(either, capsys):
    api = either
    api.register(TIMED)
    eid = api.start("t.timed")
    view = ended(api, eid)
    assert view["status"] == "succeeded", view
    flaky, each = view["tasks"]
    # a single-unit run: its three attempts, two failed, each within the run
    assert flaky["attempts"] == 3
    assert flaky["duration"] == round(flaky["finished_at"] - flaky["started_at"], 6) >= 2 * DELAY
    assert_attempts(flaky["attempt_timings"], ["failed", "failed", "succeeded"],
                    flaky["started_at"], flaky["finished_at"])
    # a with_items run: no attempts of its own; each item has its timings on the run's page
    assert each["attempt_timings"] == [] and each["started_at"] >= flaky["finished_at"]
    detail = api.get(f"/executions/{eid}/runs/each/1?limit=3").body
    assert detail["next_offset"] == 3 and [u["index"] for u in detail["units"]] == [0, 1, 2]
    units = detail["units"] + api.get(f"/executions/{eid}/runs/each/1?offset=3").body["units"]
    for u in units:
        assert each["started_at"] <= u["started_at"] <= u["finished_at"] <= each["finished_at"]
        assert u["duration"] == round(u["finished_at"] - u["started_at"], 6)
        assert_attempts(u["attempt_timings"], ["failed", "succeeded"] if u["index"] == 1 else ["succeeded"],
                        u["started_at"], u["finished_at"])
    assert units[1]["duration"] >= DELAY - 0.01  # the retried item took its delay longer
    # a single run's page has its attempts too
    assert api.get(f"/executions/{eid}/runs/flaky/1").body["attempt_timings"] == flaky["attempt_timings"]
    # relayflow status --json: the execution with each run's timings
    assert cli.main(["status", eid, "--api", api.url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tasks"][0]["attempt_timings"] == flaky["attempt_timings"]
    assert [t["duration"] for t in out["tasks"]] == [flaky["duration"], each["duration"]]
    # the human status line says how long each run took
    assert cli.main(["status", eid, "--api", api.url]) == 0
    assert f"flaky (run 1) succeeded, 3 attempts, took {flaky['duration']:.1f}s" in capsys.readouterr().out


def test_run_json_keeps_exactly_its_documented_keys(tmp_path, capsys):
    """run --json is a contract (one object, these keys): the timings stay out of it."""
    path = tmp_path / "timed.yaml"
    path.write_text(TIMED)
    assert cli.main(["run", str(path), "--json", "--backend", "memory"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(list(t) == list(cli.TASK_RUN_KEYS) for t in out["tasks"])


def test_a_cancelled_item_ends_its_running_attempt(api):
    api.register("name: t.slow\ntasks:\n  - name: each\n    action: core.sleep\n"
                 "    with_items: \"{{ range(2) | list }}\"\n    input: {seconds: 60}\n")
    eid = api.start("t.slow")
    api.settle()
    running = api.get(f"/executions/{eid}/runs/each/1").body["units"]
    assert [u["attempt_timings"][0]["finished_at"] for u in running] == [None, None]
    assert [u["duration"] for u in running] == [None, None]
    assert api.post(f"/executions/{eid}/cancel", {}).status == 202
    api.settle()
    for u in api.get(f"/executions/{eid}/runs/each/1").body["units"]:
        (only,) = u["attempt_timings"]
        assert u["status"] == "cancelled" and only["status"] == "cancelled"
        assert only["finished_at"] == u["finished_at"] >= only["started_at"]
