"""The `relayflow` command's contract (DESIGN.md §4).

Most tests call ``relayflow.cli.main([...])`` in-process with capsys (fast); a
few run the installed ``relayflow`` script in a real subprocess.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from relayflow import cli

RESULT_KEYS = ["execution_id", "workflow", "status", "output", "error", "tasks"]
TASK_KEYS = ["name", "run", "status", "attempts", "result", "error"]
SCRIPT = Path(sys.executable).with_name("relayflow")

DEPLOY = """
name: demo.deploy
input:
  service: {type: string, required: true}
  replicas: {type: integer, default: 2}
tasks:
  - name: build
    action: core.echo
    input: {image: "{{ input.service }}:latest"}
    publish:
      - image: "{{ result().image }}"
    on_success: deploy
  - name: deploy
    action: core.echo
    input: {image: "{{ vars.image }}", replicas: "{{ input.replicas }}"}
output:
  image: "{{ vars.image }}"
"""

FAILING = """
name: demo.failing
tasks:
  - name: prepare
    action: core.noop
    on_success: boom
  - name: boom
    action: core.fail
    input: {message: disk full}
"""


@pytest.fixture(autouse=True)
def _isolate_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` puts the workflow's folder on sys.path for python: actions; undo it after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_json_object(out: str) -> dict:
    """stdout holds exactly one JSON object and nothing else."""
    assert out.endswith("\n") and out.count("\n") == 1, out
    value = json.loads(out)  # raises on trailing data
    assert isinstance(value, dict)
    return value


# --- run --json ------------------------------------------------------------------------------------


def test_run_json_prints_exactly_one_object_with_the_contract_keys(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    code, out, err = run_cli(capsys, "run", str(wf), "--input", '{"service": "web"}', "--json")
    assert code == 0, err
    result = one_json_object(out)
    assert list(result) == RESULT_KEYS
    assert isinstance(result["execution_id"], str) and result["execution_id"]
    assert (result["workflow"], result["status"], result["error"]) == ("demo.deploy", "succeeded", None)
    assert result["output"] == {"image": "web:latest"}
    assert [list(t) for t in result["tasks"]] == [TASK_KEYS, TASK_KEYS]
    assert result["tasks"] == [
        {"name": "build", "run": 1, "status": "succeeded", "attempts": 1, "result": {"image": "web:latest"},
         "error": None},
        {"name": "deploy", "run": 1, "status": "succeeded", "attempts": 1,
         "result": {"image": "web:latest", "replicas": 2}, "error": None},
    ]
    assert err == ""


def test_run_json_of_a_failing_workflow_exits_1_with_the_error(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "failing.yaml", FAILING)
    code, out, _ = run_cli(capsys, "run", str(wf), "--json")
    assert code == 1
    result = one_json_object(out)
    assert list(result) == RESULT_KEYS and result["status"] == "failed" and result["output"] is None
    assert result["error"]["task"] == "boom" and result["error"]["type"] == "ActionFailed"
    assert "disk full" in result["error"]["message"]
    assert [(t["name"], t["status"]) for t in result["tasks"]] == [("prepare", "succeeded"), ("boom", "failed")]
    boom = result["tasks"][1]
    assert list(boom) == TASK_KEYS and boom["error"]["type"] == "ActionFailed"


def test_run_json_of_a_timed_out_workflow_exits_1(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "slow.yaml", """
        name: demo.slow
        timeout: 5
        tasks:
          - name: wait
            action: core.echo
            timeout: 60
            retry: {count: 100, delay: 1}
            input: {}
          - name: never
            action: core.fail
            retry: {count: 50, delay: 1}
        """)
    code, out, _ = run_cli(capsys, "run", str(wf), "--json")
    result = one_json_object(out)
    assert (code, result["status"]) == (1, "timed_out")
    assert result["error"]["type"] == "Timeout"


def test_run_json_lists_with_items_results_and_loop_runs(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "items.yaml", """
        name: demo.items
        vars: {n: 0}
        tasks:
          - name: each
            action: core.echo
            with_items: [1, 2, 3]
            input: {x: "{{ item * 10 }}"}
            on_success: count
          - name: count
            action: core.noop
            next:
              - publish: [{n: "{{ vars.n + 1 }}"}]
              - when: "{{ vars.n < 2 }}"
                do: count
        output: {n: "{{ vars.n }}"}
        """)
    code, out, _ = run_cli(capsys, "run", str(wf), "--json")
    result = one_json_object(out)
    assert code == 0 and result["output"] == {"n": 3}  # every `when` sees vars from before the publish
    assert result["tasks"][0]["result"] == [{"x": 10}, {"x": 20}, {"x": 30}]
    assert [(t["name"], t["run"]) for t in result["tasks"]] == [("each", 1), ("count", 1), ("count", 2),
                                                                 ("count", 3)]


# --- usage and validation errors: exit 2 --------------------------------------------------------


def test_run_of_an_invalid_workflow_exits_2_and_prints_every_problem(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "bad.yaml", """
        name: demo.bad
        tasks:
          - name: a
            action: core.noop
            on_sucess: b
          - name: b
            action: core.noop
            timeout: never
        """)
    code, out, err = run_cli(capsys, "run", str(wf), "--json")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{wf}:5: task a: on_sucess: unknown field (did you mean 'on_success'?)",
        f"{wf}:8: task b: timeout: must be a positive number of seconds or a \"{{{{ template }}}}\", not 'never'",
    ]


def test_bad_input_json_exits_2(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    code, out, err = run_cli(capsys, "run", str(wf), "--input", '{"service": ', "--json")
    assert (code, out) == (2, "")
    assert err.startswith("relayflow: --input: not valid JSON")


def test_input_from_a_file(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    (tmp_path / "in.json").write_text('{"service": "api", "replicas": 3}', encoding="utf-8")
    code, out, _ = run_cli(capsys, "run", str(wf), "--input", f"@{tmp_path / 'in.json'}", "--json")
    result = one_json_object(out)
    assert code == 0 and result["tasks"][1]["result"] == {"image": "api:latest", "replicas": 3}


def test_input_file_with_bad_json_names_the_file(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    (tmp_path / "in.json").write_text("{service: web}", encoding="utf-8")
    code, out, err = run_cli(capsys, "run", str(wf), "--input", f"@{tmp_path / 'in.json'}")
    assert (code, out) == (2, "")
    assert err.startswith(f"relayflow: --input @{tmp_path / 'in.json'}: not valid JSON")


def test_input_from_a_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    code, out, err = run_cli(capsys, "run", str(wf), "--input", f"@{tmp_path / 'nope.json'}")
    assert (code, out) == (2, "")
    assert "--input @" in err and "cannot read" in err


def test_input_against_the_declared_inputs_exits_2_naming_every_problem(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    code, out, err = run_cli(capsys, "run", str(wf), "--input", '{"replicas": "two", "extra": 1}', "--json")
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert lines[0] == f"{wf}: the input does not match the inputs workflow demo.deploy declares:"
    assert sorted(lines[1:]) == sorted([
        "  input 'extra': not declared by workflow demo.deploy (declared: replicas, service)",
        "  input 'service': required but missing",
        "  input 'replicas': expected integer, got string \"two\"",
    ])


def test_input_that_is_not_an_object_exits_2(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    code, _, err = run_cli(capsys, "run", str(wf), "--input", "[1, 2]")
    assert code == 2 and "input must be a JSON object, got list" in err


def test_missing_workflow_file_exits_2(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "run", str(tmp_path / "nope.yaml"))
    assert (code, out) == (2, "")
    assert err.startswith(f"{tmp_path / 'nope.yaml'}:0: file: cannot read")


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["run"], ["graph", "x.yaml", "--format", "png"]],
                         ids=["nothing", "unknown-command", "run-without-file", "bad-format"])
def test_usage_errors_exit_2(argv: list[str], capsys) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "usage: relayflow" in err


def test_help_exits_0(capsys) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "run" in out and "validate" in out and "graph" in out


# --- siblings and python actions ------------------------------------------------------------


def test_sibling_workflow_files_are_registered_by_name(tmp_path: Path, capsys) -> None:
    write(tmp_path, "child.yaml", """
        name: demo.child
        input: {n: {type: integer, required: true}}
        tasks:
          - name: double
            action: core.echo
            input: {n: "{{ input.n * 2 }}"}
        output: {doubled: "{{ task.double.result.n }}"}
        """)
    write(tmp_path, "broken.yaml", "name: demo.broken\ntasks:\n  - name: x\n")
    (tmp_path / "notes.yaml").write_text("just: a config file\n", encoding="utf-8")
    parent = write(tmp_path, "parent.yaml", """
        name: demo.parent
        tasks:
          - name: call
            workflow: demo.child
            input: {n: 21}
        output: {answer: "{{ task.call.result.doubled }}"}
        """)
    code, out, err = run_cli(capsys, "run", str(parent), "--json")
    result = one_json_object(out)
    assert code == 0 and result["output"] == {"answer": 42}
    assert result["tasks"][0]["result"] == {"doubled": 42}
    assert err == ""  # --json: quiet about siblings that do not load
    code, _, err = run_cli(capsys, "run", str(parent))
    assert code == 0
    assert err.splitlines() == [
        f"note: broken.yaml is not registered (1 problem): {tmp_path / 'broken.yaml'}:3: task x: action: "
        "an action task needs 'action' (or 'workflow', or 'type: parallel')"]


def test_child_workflow_missing_fails_the_task(tmp_path: Path, capsys) -> None:
    parent = write(tmp_path, "parent.yaml", """
        name: demo.orphan
        tasks:
          - {name: call, workflow: demo.nowhere}
        """)
    code, out, _ = run_cli(capsys, "run", str(parent), "--json")
    result = one_json_object(out)
    assert code == 1 and result["status"] == "failed" and result["error"]["task"] == "call"
    assert "demo.nowhere" in result["error"]["message"]


def test_python_action_beside_the_workflow(tmp_path: Path, capsys) -> None:
    module = f"rf_cli_actions_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent("""
        def shout(payload):
            return {"text": payload["text"].upper() + "!"}

        def tagged(payload, context):
            return {"task": context.task, "attempt": context.attempt}
        """), encoding="utf-8")
    wf = write(tmp_path, "py.yaml", f"""
        name: demo.python
        tasks:
          - name: shout
            action: "python:{module}:shout"
            input: {{text: hello}}
            on_success: tag
          - name: tag
            action: "python:{module}:tagged"
        output: {{text: "{{{{ task.shout.result.text }}}}", tag: "{{{{ task.tag.result }}}}"}}
        """)
    try:
        code, out, _ = run_cli(capsys, "run", str(wf), "--json")
    finally:
        sys.modules.pop(module, None)
    result = one_json_object(out)
    assert code == 0, result
    assert result["output"] == {"text": "HELLO!", "tag": {"task": "tag", "attempt": 1}}


# --- human output ------------------------------------------------------------------------------


def test_without_json_each_task_run_start_and_end_is_printed(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "failing.yaml", FAILING)
    code, out, _ = run_cli(capsys, "run", str(wf))
    assert code == 1
    events = [re.sub(r"^\s*[\d.]+s\s+demo\.failing\s+", "", row) for row in out.splitlines() if "demo.failing  " in row]
    assert [re.sub(r"\s+", " ", e) for e in events] == [
        "started prepare (run 1)",
        "succeeded prepare (run 1, 1 attempt)",
        "started boom (run 1)",
        "failed boom (run 1, 1 attempt): disk full",
    ]
    assert re.search(r"^workflow demo\.failing failed \(execution \S+\) in \d+\.\d\d s$", out, re.M)
    assert re.search(r'^error: \{.*"task": "boom".*\}$', out, re.M)


def test_without_json_output_and_retries_are_printed(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "retry.yaml", """
        name: demo.retry
        tasks:
          - name: flaky
            action: core.fail
            input: {message: try again, succeed_on_attempt: 2}
            retry: {count: 2, delay: 3}
        output: {done: true}
        """)
    code, out, _ = run_cli(capsys, "run", str(wf))
    assert code == 0
    assert re.search(r"retrying\s+flaky \(run 1\) attempt 1 failed: try again; next attempt in 3 s", out)
    assert re.search(r"succeeded\s+flaky \(run 1, 2 attempts\)", out)
    assert re.search(r'^output: \{\n  "done": true\n\}$', out, re.M)


def test_warnings_are_printed_on_stderr_before_a_run(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "diamond.yaml", """
        name: demo.diamond
        tasks:
          - {name: a, action: core.noop, on_success: [b, c]}
          - {name: b, action: core.noop, on_success: d}
          - {name: c, action: core.noop, on_success: d}
          - {name: d, action: core.noop}
        """)
    code, _, err = run_cli(capsys, "run", str(wf))
    assert code == 0 and err.startswith(f"{wf}:6: task d: join: warning: 2 tasks lead here")
    code, out, err = run_cli(capsys, "run", str(wf), "--json")
    assert code == 0 and err == "" and [t["name"] for t in one_json_object(out)["tasks"]] == list("abcdd")


def test_closed_stdout_is_not_a_crash_and_keeps_the_exit_status(tmp_path: Path, capsys,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    class ClosedPipe:
        writes = 0

        def write(self, text: str) -> int:
            ClosedPipe.writes += 1
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            raise OSError("no descriptor")

    wf = write(tmp_path, "failing.yaml", FAILING)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["run", str(wf)]) == 1  # the workflow still ran to its end
    assert ClosedPipe.writes == 1  # after the first failed write, output is dropped
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["validate", str(wf)]) == 0


# --- validate ------------------------------------------------------------------------------------


def test_validate_good_and_bad_files(tmp_path: Path, capsys) -> None:
    good = write(tmp_path, "good.yaml", DEPLOY)
    bad = write(tmp_path, "bad.yaml", """
        name: demo.bad
        tasks:
          - name: a
            action: core.echo
            input: {x: "{{ item }}"}
            on_success: [b, nope]
          - name: b
            join: 2
        """)
    code, out, err = run_cli(capsys, "validate", str(good))
    assert (code, out, err) == (0, f"{good}: ok (2 tasks)\n", "")
    code, out, err = run_cli(capsys, "validate", str(good), str(bad))
    assert code == 2
    assert out == f"{good}: ok (2 tasks)\n"
    assert err.splitlines() == [
        f"{bad}:5: task a: input.x: 'item' and 'index' exist only in the input of a with_items task",
        f"{bad}:6: task a: on_success: unknown task 'nope'",
        f"{bad}:7: task b: action: an action task needs 'action' (or 'workflow', or 'type: parallel')",
        f"{bad}:8: task b: join: waits for 2 inbound tasks but only 1 leads here (a); it could never run",
    ]


def test_validate_reports_warnings_but_succeeds(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "diamond.yaml", """
        name: demo.diamond
        tasks:
          - {name: a, action: core.noop, on_success: [b, c]}
          - {name: b, action: core.noop, on_success: d}
          - {name: c, action: core.noop, on_success: d}
          - {name: d, action: core.noop}
        """)
    code, out, err = run_cli(capsys, "validate", str(wf))
    assert code == 0 and out == f"{wf}: ok (4 tasks, 1 warning)\n"
    assert err == (f"{wf}:6: task d: join: warning: 2 tasks lead here (b, c) and there is no 'join': "
                   "it runs once per arrival\n")


def test_validate_of_unreadable_and_syntax_broken_files(tmp_path: Path, capsys) -> None:
    broken = write(tmp_path, "broken.yaml", "name: x\ntasks: [\n")
    code, out, err = run_cli(capsys, "validate", str(tmp_path / "nope.yaml"), str(broken))
    assert (code, out) == (2, "")
    rows = err.splitlines()
    assert rows[0].startswith(f"{tmp_path / 'nope.yaml'}:0: file: cannot read")
    assert re.match(rf"{re.escape(str(broken))}:[23]: yaml: invalid YAML: ", rows[1]) and len(rows) == 2


# --- graph ---------------------------------------------------------------------------------------

GRAPH = """
name: demo.graph
tasks:
  - name: build
    action: core.echo
    on_success: [test, lint]
    on_failure: notify
  - name: test
    action: core.noop
    on_success: deploy
  - name: lint
    action: core.noop
    on_success: deploy
  - name: deploy
    workflow: demo.child
    join: all
    decision:
      - {when: "{{ result().ok }}", next: notify}
  - name: notify
    action: core.noop
"""
GRAPH_EDGES = {("build", "test"), ("build", "lint"), ("build", "notify"), ("test", "deploy"),
               ("lint", "deploy"), ("deploy", "notify")}


def test_graph_mermaid_has_every_task_and_edge(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "graph.yaml", GRAPH)
    code, out, _ = run_cli(capsys, "graph", str(wf), "--format", "mermaid")
    assert code == 0 and out.startswith("flowchart TD\n")
    ids = dict(re.findall(r'^  (t\d+)[\[(]+"(\w+)<br/>', out, re.M))
    assert sorted(ids.values()) == sorted(["build", "test", "lint", "deploy", "notify"])
    edges = {(ids[a], ids[b]) for a, b in re.findall(r"^  (t\d+) -->(?:\|[^|]*\|)? (t\d+)$", out, re.M)}
    assert edges == GRAPH_EDGES
    code, default_out, _ = run_cli(capsys, "graph", str(wf))
    assert (code, default_out) == (0, out)  # mermaid is the default


def test_graph_dot_has_every_task_and_edge(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "graph.yaml", GRAPH)
    code, out, _ = run_cli(capsys, "graph", str(wf), "--format", "dot")
    assert code == 0 and out.startswith('digraph "demo.graph" {')
    assert set(re.findall(r'^  "(\w+)" \[label=', out, re.M)) == {"build", "test", "lint", "deploy", "notify"}
    assert set(re.findall(r'^  "(\w+)" -> "(\w+)"', out, re.M)) == GRAPH_EDGES


def test_graph_of_an_invalid_workflow_exits_2(tmp_path: Path, capsys) -> None:
    wf = write(tmp_path, "bad.yaml", "name: g\ntasks:\n  - {name: a, action: core.noop, on_success: b}\n")
    code, out, err = run_cli(capsys, "graph", str(wf))
    assert (code, out) == (2, "")
    assert err == f"{wf}:3: task a: on_success: unknown task 'b'\n"


# --- the installed script, in a real process ---------------------------------------------------


def run_script(*argv: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(SCRIPT), *argv], capture_output="stdout" not in kwargs, text=True, timeout=60,
                          cwd=cwd, env=env, **kwargs)


def test_installed_script_runs_json_and_exit_codes(tmp_path: Path) -> None:
    assert SCRIPT.exists(), f"the relayflow script is not installed beside {sys.executable}"
    wf = write(tmp_path, "deploy.yaml", DEPLOY)
    done = run_script("run", str(wf), "--input", '{"service": "web"}', "--json")
    assert done.returncode == 0, done.stderr
    result = one_json_object(done.stdout)
    assert list(result) == RESULT_KEYS and result["status"] == "succeeded"
    assert [list(t) for t in result["tasks"]] == [TASK_KEYS, TASK_KEYS]
    failing = write(tmp_path, "failing.yaml", FAILING)
    assert run_script("run", str(failing), "--json").returncode == 1
    bad = write(tmp_path, "bad.yaml", "name: x\ntasks: [{name: a, action: core.noop, on_sucess: a}]\n")
    done = run_script("validate", str(bad))
    assert done.returncode == 2 and done.stderr.startswith(f"{bad}:2: task a: on_sucess: unknown field")


def test_closed_pipe_prints_no_broken_pipe_traceback(tmp_path: Path) -> None:
    """`relayflow run wf.yaml | head -1`: the reader is gone before relayflow writes."""
    wf = write(tmp_path, "failing.yaml", FAILING)
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        done = run_script("run", str(wf), stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 1  # the failing workflow's status, not a crash


def test_validate_a_folder_checks_the_workflows_in_it_and_its_subfolders(tmp_path: Path, capsys) -> None:
    for folder in ("more", "tests", ".hidden"):
        (tmp_path / folder).mkdir()
    good = write(tmp_path, "good.yaml", DEPLOY)
    nested = write(tmp_path, "more/nested.yml", "name: demo.nested\ntasks: [{name: a, action: core.nope}]\n")
    write(tmp_path, "tests/good_test.yaml", "workflow: ../good.yaml\ncases: [{name: a, expect: {}}]\n")
    write(tmp_path, "template.yaml", "Resources: {}\n")
    write(tmp_path, ".hidden/bad.yaml", "name: x\ntasks: [{name: a, action: core.nope}]\n")
    code, out, err = run_cli(capsys, "validate", str(tmp_path))
    assert code == 2
    assert out == f"{good}: ok (2 tasks)\n"
    assert err.splitlines() == [f"{nested}:2: task a: action: unknown built-in action 'core.nope' (did you mean "
                                "'core.noop'?); the core actions are core.ask, core.echo, core.fail, core.http, "
                                "core.noop, core.sleep"]
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(capsys, "validate", str(empty))
    assert (code, out) == (2, "")
    assert err == f"{empty}: no workflow files here or in its subfolders (YAML files with 'tasks')\n"
    code, out, err = run_cli(capsys, "validate", str(tmp_path), "--json")
    assert code == 2 and err == ""
    report = json.loads(out)
    assert [(f["file"], f["ok"]) for f in report["files"]] == [(str(good), True), (str(nested), False)]
