"""`relayflow items`: a with_items run's items with their status, attempts, timings and error,
a page at a time, filtered by status, through a served API (memory and embedded backends)."""
from __future__ import annotations

import json
import re

from .cli_run import run

ITEMS = """\
name: i.items
tasks:
  - name: each
    action: core.fail
    with_items: "{{ range(12) | list }}"
    concurrency: 4
    input: {message: "item {{ item }} broke", succeed_on_attempt: "{{ 2 if item == 5 else (99 if item == 7 else 1) }}"}
    retry: {count: 1}
    on_complete: after
  - {name: after, action: core.echo, input: {x: 1}}
"""
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def rows(out: str) -> dict[int, list[str]]:
    return {int(line.split()[0]): line.split(None, 6) for line in out.splitlines() if re.match(r"^\s+\d+\s", line)}


def test_items_lists_each_item_with_status_attempts_timings_and_error(api, capsys):
    api.register(ITEMS)
    eid = api.start("i.items")
    api.settle()
    code, out, err = run(capsys, "items", eid, "each", "--api", api.url)
    assert code == 0, err
    assert out.splitlines()[0] == "task each run 1 (items) failed, 12/12 items done: 11 succeeded, 1 failed, 0 running"
    table = rows(out)
    assert sorted(table) == list(range(12))
    index, status, attempts, started, finished, took, error = table[7]
    assert (status, attempts, error) == ("failed", "2", "item 7 broke")
    assert re.fullmatch(STAMP, started) and re.fullmatch(STAMP, finished) and took.endswith("s")
    assert table[5][1:3] == ["succeeded", "2"] and table[0][1:3] == ["succeeded", "1"]
    assert len(table[0]) == 6  # no error column on a good item
    assert "more:" not in out


def test_items_pages_and_filters_by_status(api, capsys):
    api.register(ITEMS)
    eid = api.start("i.items")
    api.settle()
    code, out, _ = run(capsys, "items", eid, "each", "--limit", "5", "--api", api.url)
    assert sorted(rows(out)) == [0, 1, 2, 3, 4]
    more = [line for line in out.splitlines() if line.startswith("more: ")]
    assert more == [f"more: relayflow items {eid} each --run 1 --offset 5 --limit 5   (or --all)"]
    code, out, _ = run(capsys, "items", eid, "each", "--run", "1", "--offset", "10", "--limit", "5",
                       "--api", api.url)
    assert sorted(rows(out)) == [10, 11] and "more:" not in out
    code, out, _ = run(capsys, "items", eid, "each", "--all", "--limit", "5", "--json", "--api", api.url)
    page = json.loads(out)
    assert [u["index"] for u in page["units"]] == list(range(12)) and page["next_offset"] is None
    assert page["items"] == {"total": 12, "succeeded": 11, "failed": 1, "running": 0, "pending": 0}
    code, out, _ = run(capsys, "items", eid, "each", "--status", "failed", "--json", "--api", api.url)
    failed = json.loads(out)["units"]
    assert [(u["index"], u["attempts"], u["error"]["message"]) for u in failed] == [(7, 2, "item 7 broke")]
    assert [t["status"] for t in failed[0]["attempt_timings"]] == ["failed", "failed"]
    code, out, _ = run(capsys, "items", eid, "each", "--status", "running", "--api", api.url)
    assert out.splitlines()[1:] == ["no items in status running"]


def test_items_refuses_what_has_no_items_naming_it(api, capsys):
    api.register(ITEMS)
    eid = api.start("i.items")
    api.settle()
    code, _, err = run(capsys, "items", eid, "nope", "--api", api.url)
    assert code == 2 and "has no task 'nope' (its tasks: each, after)" in err
    code, _, err = run(capsys, "items", eid, "after", "--api", api.url)
    assert code == 2 and "run 1 of task 'after' is a single task, with no items" in err
    code, _, err = run(capsys, "items", eid, "each", "--run", "2", "--api", api.url)
    assert code == 2 and "no run 2 of task 'each'" in err
    bad = api.get(f"/executions/{eid}/runs/each/1?status=broken")
    assert bad.status == 400 and "status" in json.dumps(bad.body)


def test_items_on_the_embedded_stack(local_api, capsys):
    local_api.register(ITEMS.replace("range(12)", "range(8)"))
    eid = local_api.start("i.items")
    local_api.settle()
    code, out, err = run(capsys, "items", eid, "each", "--status", "failed", "--api", local_api.url)
    assert code == 0, err
    assert {i: r[1:3] + r[6:] for i, r in rows(out).items()} == {7: ["failed", "2", "item 7 broke"]}
    code, out, _ = run(capsys, "items", eid, "each", "--json", "--api", local_api.url)
    units = json.loads(out)["units"]
    assert [u["status"] for u in units] == ["succeeded"] * 7 + ["failed"]
    assert all(u["finished_at"] >= u["started_at"] and u["duration"] >= 0 for u in units)
