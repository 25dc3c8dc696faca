"""Reading a test file: every problem named with its file and line, and a did-you-mean."""
from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from .. import schemas
from ..core import yamlpos
from ..core.conductor import ASK_ACTION
from ..core.loader import parse_file, read_file
from ..core.spec import TaskSpec, WorkflowSpec
from .model import (
    CASE_FIELDS,
    EXPECT_FIELDS,
    FAIL_FIELDS,
    FILE_FIELDS,
    OUTCOME_KEYS,
    SELECTOR_KEYS,
    STATUSES,
    TASK_KEYED,
    Case,
    Mock,
    Outcome,
    TestFile,
    TestFileError,
)


def _suggest(word: str, choices: Any) -> str:
    match = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _mocked_task(spec: WorkflowSpec, label: str) -> TaskSpec:
    """The task (or ``PARENT/SUB`` sub-task) a mock label names; the label is known to exist."""
    name, _, sub = label.partition("/")
    task = spec.tasks[name]
    return next(t for t in task.subtasks if t.name == sub) if sub else task


def _literal_ask_schema(task: TaskSpec) -> Callable[[Any], Any] | None:
    """The validator of a core.ask task's schema when it is written out (no template), else None."""
    schema = task.input.get("schema") if task.action == ASK_ACTION and isinstance(task.input, dict) else None
    if not isinstance(schema, dict) or "{{" in json.dumps(schema) or "{%" in json.dumps(schema):
        return None
    return schema_validator(schema)


def schema_validator(schema: Any) -> Callable[[Any], Any] | None:
    """The approval API's own check of a response (relayflow.schemas), or None for a schema it refuses."""
    try:
        return schemas.compile_schema(schema)
    except schemas.SchemaError:
        return None  # the approval itself reports a broken schema when it runs


def schema_problem(validate: Callable[[Any], Any], answer: Any) -> str | None:
    """Why ``answer`` breaks the schema (as the approval API checks it), or None."""
    try:
        validate(answer)
    except schemas.SchemaMismatch as exc:
        return str(exc)
    return None




def _task_labels(spec: WorkflowSpec) -> set[str]:
    labels = set(spec.tasks)
    for task in spec.tasks.values():
        labels.update(f"{task.name}/{sub.name}" for sub in task.subtasks)
    return labels


class _FileReader:
    """Checks a test file and collects every problem as FILE:LINE: message."""

    def __init__(self, path: str, lines: dict):
        self.path = path
        self.lines = lines
        self.problems: list[str] = []
        self.answer_schema: Callable[[Any], Any] | None = None  # the core.ask task's schema, while reading its mock

    def err(self, where: tuple, message: str) -> None:
        self.problems.append(f"{self.path}:{yamlpos.line_of(self.lines, where)}: {message}")

    def line(self, where: tuple) -> int:
        return yamlpos.line_of(self.lines, where)

    def unknown(self, data: dict, allowed: set[str], where: tuple, what: str) -> None:
        for key in data:
            if key not in allowed:
                hint = _suggest(key, allowed) or f"; allowed: {', '.join(sorted(allowed))}"
                self.err(where + (key,), f"{what}: unknown field '{key}'{hint}")

    # -- mocks --------------------------------------------------------------------------
    def mock(self, raw: Any, where: tuple, label: str) -> Mock | None:
        if isinstance(raw, list):
            if not raw:
                self.err(where, f"mock of {label}: an empty list; give one outcome per attempt")
                return None
            outcomes = [self.outcome(o, where + (i,), label) for i, o in enumerate(raw)]
            return Mock(attempts=tuple(o for o in outcomes if o is not None)) if all(outcomes) else None
        if not isinstance(raw, dict):
            self.err(where, f"mock of {label}: expected an outcome such as {{result: ...}}, "
                            f"{{fail: message}} or {{timeout: true}}, a list of them, or {{runs|items|default}}")
            return None
        if set(raw) & SELECTOR_KEYS:
            return self.selector(raw, where, label)
        outcome = self.outcome(raw, where, label)
        return Mock(attempts=(outcome,)) if outcome else None

    def selector(self, raw: dict, where: tuple, label: str) -> Mock | None:
        self.unknown(raw, SELECTOR_KEYS, where, f"mock of {label}")
        if "runs" in raw and "items" in raw:
            self.err(where, f"mock of {label}: give 'runs' or 'items', not both "
                            "(nest one inside the other: runs: {2: {items: ...}})")
            return None
        default = self.mock(raw["default"], where + ("default",), label) if "default" in raw else None
        if "runs" in raw:
            runs = self.indexed(raw["runs"], where + ("runs",), label, "runs", first=1)
            if runs is None:
                return None
            return Mock(runs=runs, default=default)
        if "items" in raw:
            items = self.indexed(raw["items"], where + ("items",), label, "items", first=0)
            if items is None:
                return None
            if isinstance(items, tuple):
                items = dict(enumerate(items))
            return Mock(items=items, default=default)
        return Mock(default=default)

    def indexed(self, raw: Any, where: tuple, label: str, what: str, first: int) -> Any:
        if isinstance(raw, list):
            mocks = [self.mock(m, where + (i,), label) for i, m in enumerate(raw)]
            return tuple(mocks) if all(mocks) and mocks else None
        if isinstance(raw, dict):
            out: dict[int, Mock] = {}
            for key, value in raw.items():
                if isinstance(key, bool) or not isinstance(key, int) or key < first:
                    kind = "run numbers start at 1" if first else "item indexes start at 0"
                    self.err(where + (key,), f"mock of {label}: {what} key {key!r} must be an integer ({kind})")
                    continue
                mock = self.mock(value, where + (key,), label)
                if mock is not None:
                    out[key] = mock
            return out
        self.err(where, f"mock of {label}: '{what}' must be a list or a map of "
                        f"{'run number' if first else 'item index'} to mock")
        return None

    def outcome(self, raw: Any, where: tuple, label: str) -> Outcome | None:
        if not isinstance(raw, dict):
            self.err(where, f"mock of {label}: an outcome is {{result: X}}, {{fail: message}}, "
                            f"{{timeout: true}} or {{real: true}}, not {raw!r}")
            return None
        self.unknown(raw, OUTCOME_KEYS | {"after"}, where, f"mock of {label}")
        kinds = [k for k in ("result", "fail", "timeout", "real") if k in raw]
        if len(kinds) != 1:
            self.err(where, f"mock of {label}: give exactly one of result, fail, timeout, real"
                            + (f" (got {', '.join(kinds)})" if kinds else ""))
            return None
        kind = kinds[0]
        after = raw.get("after", 0)
        if isinstance(after, bool) or not isinstance(after, (int, float)) or after < 0:
            self.err(where + ("after",), f"mock of {label}: after must be a number of seconds >= 0")
            after = 0
        if kind == "result":
            if self.answer_schema is not None:
                problem = schema_problem(self.answer_schema, raw["result"])
                if problem:
                    self.err(where + ("result",), f"mock of {label}: the answer does not match the task's schema "
                                                  f"({problem}); the approval API would refuse it")
            return Outcome("result", result=raw["result"], after=float(after))
        if kind in ("timeout", "real"):
            if raw[kind] is not True:
                self.err(where + (kind,), f"mock of {label}: write '{kind}: true'")
                return None
            return Outcome(kind, after=float(after))
        fail = raw["fail"]
        if isinstance(fail, str):
            return Outcome("fail", error={"type": "ActionFailed", "message": fail}, after=float(after))
        if not isinstance(fail, dict):
            self.err(where + ("fail",), f"mock of {label}: fail is a message or {{type, message, result}}")
            return None
        self.unknown(fail, FAIL_FIELDS, where + ("fail",), f"mock of {label}: fail")
        error = {"type": str(fail.get("type", "ActionFailed")),
                 "message": str(fail.get("message", f"{label} failed (mocked)"))}
        return Outcome("fail", result=fail.get("result"), error=error, after=float(after))

    def mocks(self, raw: Any, where: tuple, spec: WorkflowSpec) -> dict[str, Mock]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.err(where, "mocks: a map of task name to its mock")
            return {}
        labels = _task_labels(spec)
        out = {}
        for name, value in raw.items():
            if name not in labels:
                self.err(where + (name,), f"mocks: workflow {spec.name} has no task '{name}'"
                                          f"{_suggest(name, labels)}")
                continue
            task = _mocked_task(spec, str(name))
            if task.type == "parallel":
                subs = ", ".join(f"{name}/{sub.name}" for sub in task.subtasks)
                self.err(where + (name,), f"mocks: {name} is a parallel task: it runs no action of its own, so "
                                          f"a mock of it would never be used; mock its sub-tasks ({subs})")
                continue
            self.answer_schema = _literal_ask_schema(task)
            try:
                mock = self.mock(value, where + (name,), str(name))
            finally:
                self.answer_schema = None
            if mock is not None:
                out[str(name)] = mock
        return out

    # -- expectations -----------------------------------------------------------------------
    def task_key(self, key: Any, where: tuple, what: str, spec: WorkflowSpec, runs: bool = True) -> None:
        name = str(key)
        if runs and "#" in name:
            name, _, number = name.partition("#")
            if not number.isdigit() or int(number) < 1:
                self.err(where, f"{what}: '{key}': write TASK#N with a run number N >= 1")
                return
        if name not in spec.tasks:
            self.err(where, f"{what}: workflow {spec.name} has no task '{name}'{_suggest(name, spec.tasks)}")

    def expect(self, raw: Any, where: tuple, spec: WorkflowSpec) -> dict[str, Any]:
        if raw is None:
            self.err(where, "case: 'expect' is missing: say what should happen (at least a status)")
            return {}
        if not isinstance(raw, dict):
            self.err(where, "expect: a map such as {status: succeeded, output: {...}}")
            return {}
        self.unknown(raw, EXPECT_FIELDS, where, "expect")
        if "status" in raw and raw["status"] not in STATUSES:
            self.err(where + ("status",), f"expect.status: {raw['status']!r} is not one of {', '.join(STATUSES)}"
                                          f"{_suggest(str(raw['status']), STATUSES)}")
        for key in ("error",):
            if key in raw and raw[key] is not None and not isinstance(raw[key], dict):
                self.err(where + (key,), f"expect.{key}: a map such as {{type: ActionFailed, message: text}}, or null")
        if "ran" in raw:
            if not isinstance(raw["ran"], dict):
                self.err(where + ("ran",), "expect.ran: a map of task name to its number of runs")
            else:
                for name, count in raw["ran"].items():
                    self.task_key(name, where + ("ran", name), "expect.ran", spec, runs=False)
                    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                        self.err(where + ("ran", name), f"expect.ran.{name}: a number of runs (0: never ran)")
        for key in TASK_KEYED:
            if key not in raw:
                continue
            if not isinstance(raw[key], dict):
                self.err(where + (key,), f"expect.{key}: a map of task name (or NAME#RUN) to the expected value")
                continue
            for name, value in raw[key].items():
                self.task_key(name, where + (key, name), f"expect.{key}", spec)
                if key == "statuses" and value not in STATUSES + ("skipped",):
                    self.err(where + (key, name), f"expect.statuses.{name}: {value!r} is not a task run status")
                if key == "errors" and value is not None and not isinstance(value, dict):
                    self.err(where + (key, name),
                             f"expect.errors.{name}: a map such as {{type: ActionFailed}}, or null")
                if key == "attempts" and (isinstance(value, bool) or not isinstance(value, int)):
                    self.err(where + (key, name), f"expect.attempts.{name}: a number of attempts")
        if "order" in raw:
            order = raw["order"]
            if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
                self.err(where + ("order",), "expect.order: a list of task names, in the order their runs started")
            else:
                for i, name in enumerate(order):
                    self.task_key(name, where + ("order", i), "expect.order", spec, runs=False)
        if "vars" in raw and not isinstance(raw["vars"], dict):
            self.err(where + ("vars",), "expect.vars: a map of variable name to value")
        for key in ("output_includes",):
            if key in raw and not isinstance(raw[key], dict):
                self.err(where + (key,), f"expect.{key}: a map of the output keys to check")
        if "elapsed" in raw and (isinstance(raw["elapsed"], bool) or not isinstance(raw["elapsed"], (int, float))):
            self.err(where + ("elapsed",), "expect.elapsed: a number of (virtual) seconds")
        return raw


def load_test_file(path: str) -> TestFile:
    """Read and check a test file; raise :class:`TestFileError` listing every problem."""
    text, problems = read_file(path)
    if text is None:
        raise TestFileError([str(p) for p in problems])
    try:
        data, lines = yamlpos.load(text)
    except yamlpos.YamlSyntaxError as exc:
        raise TestFileError([f"{path}:{exc.line}: {exc}"]) from None
    r = _FileReader(path, lines)
    if not isinstance(data, dict):
        raise TestFileError([f"{path}:1: a test file is a map with 'workflow' (a file) and 'cases'"])
    r.unknown(data, FILE_FIELDS, (), "test file")
    wf = data.get("workflow")
    if not isinstance(wf, str) or not wf:
        r.err(("workflow",) if "workflow" in data else (), "test file: 'workflow' must name the workflow file "
                                                           "under test, relative to this file")
        raise TestFileError(r.problems)
    folder = os.path.dirname(path)
    workflow_path = os.path.normpath(os.path.join(folder, wf))
    spec, wf_problems = (parse_file(workflow_path) if os.path.exists(workflow_path) else (None, []))
    if not os.path.exists(workflow_path):
        r.err(("workflow",), f"workflow file {wf} not found (looked for {workflow_path})")
        raise TestFileError(r.problems)
    if spec is None:
        r.err(("workflow",), f"workflow file {wf} does not validate:")
        raise TestFileError(r.problems + [f"  {p}" for p in wf_problems if p.severity == "error"])
    extra: list[WorkflowSpec] = []
    extra_raw = data.get("workflows") or []
    if not isinstance(extra_raw, list) or not all(isinstance(p, str) for p in extra_raw):
        r.err(("workflows",), "workflows: a list of workflow files to register, relative to this file")
        extra_raw = []
    for i, rel in enumerate(extra_raw):
        other = os.path.normpath(os.path.join(folder, rel))
        other_spec, other_problems = parse_file(other)
        if other_spec is None:
            r.err(("workflows", i), f"workflows[{i}]: {rel} does not load: "
                                    + "; ".join(str(p) for p in other_problems[:3]))
        else:
            extra.append(other_spec)
    cases_raw = data.get("cases")
    if not isinstance(cases_raw, list) or not cases_raw:
        r.err(("cases",) if "cases" in data else (), "test file: 'cases' must be a non-empty list of cases")
        raise TestFileError(r.problems)
    known = {spec.name: spec, **{s.name: s for s in extra}}
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(cases_raw):
        where = ("cases", i)
        if not isinstance(raw, dict):
            r.err(where, f"cases[{i}]: a case is a map with name, input, mocks, expect")
            continue
        r.unknown(raw, CASE_FIELDS, where, f"cases[{i}]")
        name = raw.get("name")
        if isinstance(name, (int, float)) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not name.strip():
            r.err(where, f"cases[{i}]: every case needs a 'name'")
            name = f"case {i + 1}"
        elif name in seen:
            r.err(where + ("name",), f"cases[{i}]: duplicate case name {name!r} (first on line {seen[name]})")
        seen.setdefault(name, r.line(where))
        mocks = r.mocks(raw.get("mocks"), where + ("mocks",), spec)
        child_mocks: dict[str, dict[str, Mock]] = {}
        cm = raw.get("child_mocks")
        if cm is not None and not isinstance(cm, dict):
            r.err(where + ("child_mocks",), "child_mocks: a map of workflow name to {task: mock}")
        for wname, tasks in (cm or {}).items():
            child = known.get(wname) or _sibling_spec(workflow_path, wname)
            if child is None:
                r.err(where + ("child_mocks", wname), f"child_mocks: no workflow named '{wname}' beside "
                                                      f"{os.path.basename(workflow_path)} or in 'workflows'")
                continue
            known[wname] = child
            child_mocks[wname] = r.mocks(tasks, where + ("child_mocks", wname), child)
        expect = r.expect(raw.get("expect"), where + ("expect",), spec)
        cases.append(Case(name=name, line=r.line(where), input=raw.get("input"), mocks=mocks,
                          child_mocks=child_mocks, expect=expect))
    if r.problems:
        raise TestFileError(r.problems)
    warnings = [str(p) for p in wf_problems if p.severity != "error"]
    return TestFile(path=path, workflow_path=workflow_path, spec=spec, extra=extra, cases=cases, warnings=warnings)


def sibling_files(workflow_path: str) -> Iterator[str]:
    folder = os.path.dirname(workflow_path) or "."
    own = os.path.abspath(workflow_path)
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if name.endswith((".yaml", ".yml")) and os.path.abspath(full) != own and os.path.isfile(full):
            yield full


def _sibling_spec(workflow_path: str, name: str) -> WorkflowSpec | None:
    for path in sibling_files(workflow_path):
        spec, _ = parse_file(path)
        if spec is not None and spec.name == name:
            return spec
    return None


