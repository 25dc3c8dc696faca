"""The CLI a user expects: list, register, --json on every command, progress of with_items and
parallel runs in run / status / watch, the item on retries, the child on nested runs, the reason
of a pause or cancel, and respond asking for the answer against the inquiry's schema."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from relayflow import cli
from relayflow.core.messages import Emit
from relayflow.progress import Printer

from .cli_run import run

ITEMS = """\
name: m.items
tasks:
  - name: each
    action: core.fail
    with_items: "{{ range(12) | list }}"
    concurrency: 4
    input: {message: "item {{ item }} broke", succeed_on_attempt: "{{ 2 if item == 5 else (99 if item == 7 else 1) }}"}
    retry: {count: 1}
    on_complete: nested
  - {name: nested, workflow: m.child}
"""
CHILD = "name: m.child\ntasks:\n  - {name: hello, action: core.echo, input: {x: 1}}\n"
ASK = """\
name: m.ask
tasks:
  - name: approve
    action: core.ask
    input:
      prompt: Ship?
      schema: {type: object, required: [ok, by], properties: {ok: {type: boolean}, by: {type: string}}}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def _isolate_imports(monkeypatch):
    import sys
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_run_prints_item_progress_the_failed_items_retries_and_the_child(tmp_path, capsys, _isolate_imports):
    wf = write(tmp_path, "items.yaml", ITEMS)
    write(tmp_path, "child.yaml", CHILD)
    code, out, err = run(capsys, "run", str(wf), "--backend", "memory")
    assert code == 0, err  # on_complete: the failed item does not fail the workflow
    lines = out.splitlines()
    retried = [line for line in lines if "retrying" in line]
    assert any("each (run 1 item 5) attempt 1 failed: item 5 broke" in line for line in retried), retried
    assert any("each (run 1 item 7) attempt 1 failed: item 7 broke" in line for line in retried), retried
    child = [line for line in lines if " child " in line]
    assert len(child) == 1 and "for nested (run 1, attempt 1)" in child[0] and ".nested.1.0.1" in child[0]
    progress = [line for line in lines if "items done" in line]
    assert progress and all("each (run 1)" in line for line in progress)  # plain lines: not a terminal
    assert "\r" not in out and "\033" not in out


def test_the_progress_bar_on_a_terminal_is_redrawn_in_place_and_cleared():
    out = io.StringIO()
    ticks = iter([0.0, 1.0, 2.0, 3.0])
    printer = Printer(out, tty=True, clock=lambda: next(ticks))
    printer.items([("each", 1, {"total": 10, "succeeded": 2, "failed": 1, "running": 3, "pending": 4})])
    printer.items([("each", 1, {"total": 10, "succeeded": 8, "failed": 1, "running": 1, "pending": 0})])
    printer(Emit("task.succeeded", {"workflow": "w", "execution_id": "e", "at": 0.0, "task": "each", "run": 1,
                                    "attempts": 1, "error": None}))
    text = out.getvalue()
    frames = text.split("\r\033[K")
    assert "each (run 1) [" in frames[1] and "3/10 (1 failed, 3 running)" in frames[1]
    assert "9/10 (1 failed, 1 running)" in frames[2]
    assert "#x" in frames[2] and frames[2].count("#") > frames[1].count("#")  # succeeded, then failed, filled in
    assert frames[-1].strip().endswith("succeeded each (run 1, 1 attempt)")  # the bar was cleared first


def test_status_and_watch_show_items_children_and_the_reason(api, tmp_path, capsys):
    api.register(ITEMS)
    api.register(CHILD)
    eid = api.start("m.items")
    api.settle()
    code, out, _ = run(capsys, "status", eid, "--api", api.url)
    assert code == 0
    assert "each (run 1) failed, 2 attempts, 12/12 items done: 11 succeeded, 1 failed, 0 running" in out
    assert f"nested (run 1) succeeded, 1 attempt, child execution {eid}.nested.1.0.1" in out
    code, out, _ = run(capsys, "watch", eid, "--api", api.url, "--interval", "0.05")
    assert "12/12 items done: 11 succeeded, 1 failed" in out and "child execution" in out

    api.register(ASK)
    held = api.start("m.ask")
    api.settle()
    assert run(capsys, "pause", held, "--reason", "freeze", "--api", api.url, "--json")[1].strip() == \
        json.dumps({"execution_id": held, "requested": "pause"})
    api.settle()
    code, out, _ = run(capsys, "status", held, "--api", api.url)
    assert out.splitlines()[0] == f"workflow m.ask paused: freeze (execution {held})"
    run(capsys, "cancel", held, "--reason", "not today", "--api", api.url)
    api.settle()
    assert run(capsys, "status", held, "--api", api.url)[1].splitlines()[0] == \
        f"workflow m.ask cancelled: not today (execution {held})"


def test_list_pages_and_filters(api, capsys):
    api.register(CHILD)
    api.register(ASK)
    ids = [api.start("m.child") for _ in range(3)]
    api.start("m.ask")
    api.settle()
    code, out, _ = run(capsys, "list", "--workflow", "m.child", "--limit", "2", "--api", api.url)
    assert code == 0
    first = [line.split()[0] for line in out.splitlines() if not line.startswith("more:")]
    more = [line for line in out.splitlines() if line.startswith("more: relayflow list --next ")]
    assert len(first) == 2 and len(more) == 1 and "--workflow m.child --limit 2" in more[0]
    token = more[0].split("--next ")[1].split()[0]
    code, out, _ = run(capsys, "list", "--workflow", "m.child", "--limit", "2", "--next", token, "--api", api.url)
    rest = [line.split()[0] for line in out.splitlines()]
    assert sorted(first + rest) == sorted(ids)
    code, out, _ = run(capsys, "list", "--status", "running", "--json", "--api", api.url)
    page = json.loads(out)
    assert [e["workflow"] for e in page["executions"]] == ["m.ask"] and page["next"] is None


def test_register_files_and_folders(api, tmp_path, capsys):
    write(tmp_path, "a.yaml", CHILD)
    write(tmp_path, "b.yaml", ASK)
    bad = write(tmp_path / "..", "bad-wf.yaml", "name: m.bad\ntasks:\n  - {name: x, actoin: core.echo}\n")
    code, out, _ = run(capsys, "register", str(tmp_path), "--api", api.url, "--json")
    assert code == 0
    assert [(r["file"].rsplit("/", 1)[1], r["name"]) for r in json.loads(out)["registered"]] == \
        [("a.yaml", "m.child"), ("b.yaml", "m.ask")]
    assert {w["name"] for w in api.get("/workflows").body["workflows"]} == {"m.child", "m.ask"}
    code, out, err = run(capsys, "register", str(bad), "--api", api.url)
    assert code == 2 and "actoin" in out + err


def test_every_command_takes_json(capsys):
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    lacking = [name for name, sub in subparsers.items()
               if not any("--json" in a.option_strings for a in sub._actions)]
    assert lacking == []


def test_validate_and_graph_json(tmp_path, capsys):
    good = write(tmp_path, "good.yaml", CHILD)
    bad = write(tmp_path, "bad.yaml", "name: m.bad\ntasks:\n  - {name: x, actoin: core.echo}\n")
    code, out, _ = run(capsys, "validate", str(good), str(bad), "--json")
    files = json.loads(out)["files"]
    assert code == 2 and [f["ok"] for f in files] == [True, False]
    assert any("actoin" in p["text"] for p in files[1]["problems"])
    code, out, _ = run(capsys, "graph", str(good), "--json")
    drawn = json.loads(out)
    assert code == 0 and drawn["workflow"] == "m.child" and drawn["dot"].startswith('digraph "m.child"')


def test_respond_without_a_response_shows_the_schema_and_asks(api, capsys, monkeypatch):
    api.register(ASK)
    eid = api.start("m.ask")
    api.settle()
    (inquiry,) = api.pending(eid)
    # not a terminal: it shows the schema and says what is missing
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = run(capsys, "respond", inquiry["id"], "--api", api.url)
    assert code == 2 and "Ship?" in err and '"required"' in err and '"by"' in err
    assert "--response JSON" in err
    assert api.pending(eid) == [inquiry]
    # on a terminal: one question per property, typed from the schema
    answers = iter(["true", "ana"])

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    code, out, err = run(capsys, "respond", inquiry["id"], "--api", api.url)
    assert code == 0, err
    api.settle()
    assert api.get(f"/inquiries/{inquiry['id']}").body["response"] == {"ok": True, "by": "ana"}


def test_history_events_carry_input_output_attempts(api, capsys):
    api.register(CHILD)
    eid = api.start("m.child")
    api.settle()
    code, out, _ = run(capsys, "history", eid, "--json", "--api", api.url)
    events = {e["type"]: e for e in json.loads(out)["events"]}
    assert events["workflow.started"]["input"] == {}
    assert events["workflow.succeeded"]["output"] is None  # m.child declares no output
    assert events["task.succeeded"]["attempts"] == 1


def test_a_timeout_from_a_template_is_reported_with_its_number(tmp_path, capsys):
    wf = write(tmp_path, "budget.yaml", "name: m.budget\ninput:\n  budget: {type: integer, default: 2}\ntasks:\n"
               "  - {name: slow, action: core.sleep, input: {seconds: 10}, timeout: \"{{ input.budget }}\"}\n")
    code, out, _ = run(capsys, "run", str(wf), "--backend", "memory", "--json")
    assert code == 1
    assert json.loads(out)["error"]["message"] == "attempt 1 timed out after 2 s"


def test_run_on_the_virtual_clock_stamps_real_time_plus_the_skipped_waits():
    out = io.StringIO()
    ticks = iter([100.0, 100.0, 100.4, 101.0, 101.5])  # the real clock moves while the virtual one stands still
    printer = Printer(out, clock=lambda: next(ticks), virtual=True)
    base = {"workflow": "w", "execution_id": "e", "run": 1, "attempts": 1, "error": None}
    printer(Emit("task.started", {**base, "at": 50.0, "task": "a"}))
    printer(Emit("task.succeeded", {**base, "at": 50.0, "task": "a"}))
    printer(Emit("task.succeeded", {**base, "at": 650.0, "task": "nap"}))  # a 600 s sleep, skipped
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("times: seconds since the start on the virtual clock")
    assert [line.split()[0] for line in lines[1:]] == ["0.00s", "0.40s", "601.00s*"]
    assert printer.elapsed() == "1.50 s real, 601.50 s on the virtual clock"
    # on a real clock the events' own times are the stamps, with no note and no mark
    real = Printer(io.StringIO(), clock=lambda: 0.0)
    real(Emit("task.started", {**base, "at": 50.0, "task": "a"}))
    real(Emit("task.succeeded", {**base, "at": 52.5, "task": "a"}))
    assert [line.split()[0] for line in real.out.getvalue().splitlines()] == ["0.00s", "2.50s"]


def test_run_says_how_long_it_took_on_both_clocks(tmp_path, capsys):
    wf = write(tmp_path, "nap.yaml", "name: m.nap\ntasks:\n  - {name: first, action: core.echo, input: {}, on_success: nap}\n"
                                     "  - {name: nap, action: core.sleep, input: {seconds: 600}}\n")
    code, out, err = run(capsys, "run", str(wf), "--backend", "memory")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("times: seconds since the start on the virtual clock")
    stamps = [float(line.split()[0].rstrip("s*")) for line in lines[1:] if line.strip() and line[0] == " "]
    assert stamps == sorted(stamps) and stamps[-1] >= 600  # never back, and the sleep is in them
    nap = next(line for line in lines if "succeeded nap" in line)
    assert nap.split()[0].endswith("s*") and not any(line.split()[0].endswith("*") for line in lines[1:3])
    (closing,) = [line for line in lines if line.startswith("workflow m.nap succeeded")]
    found = re.search(r" in (\d+\.\d\d) s real, (\d+\.\d\d) s on the virtual clock$", closing)
    assert found and float(found[2]) - float(found[1]) == pytest.approx(600, abs=0.02), closing
