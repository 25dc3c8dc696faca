"""``relayflow test``: workflow tests written as YAML, run on the in-memory stack.

A test file names one workflow file (relative to the test file) and holds cases:

    workflow: ../deploy.yaml          # the workflow under test
    workflows: [../child.yaml]        # optional: more workflow files to register (the
                                      # workflow's sibling files are registered anyway)
    cases:
      - name: tests fail, so nothing is deployed
        input: {service: web}
        mocks:                        # per task; tasks without a mock run their real action
          build: {result: {image: "web:1"}}
          unit_tests:                 # a list: one outcome per attempt, the last repeats
            - {fail: {type: TestFailure, message: "3 tests failed"}}
            - {timeout: true}
        child_mocks:                  # mocks for tasks of child workflows, by workflow name
          demo.child: {step: {result: 1}}
        expect:
          status: failed
          error: {task: unit_tests, type: Timeout}
          ran: {deploy: 0}

An outcome is ``{result: X}``, ``{fail: "message"}`` (or ``{fail: {type, message,
result}}``), ``{timeout: true}`` or ``{real: true}`` (run the real action), with an
optional ``after: SECONDS`` of virtual time before it arrives. ``{timeout: true}``
on a task with a ``timeout`` makes the attempt hang until its timeout fires;
without one the attempt ends ``timed_out`` at once. A mock is an outcome, a list
of outcomes (per attempt), or a selector ``{runs: ..., items: ..., default: ...}``:
``runs`` picks per run (a list, whose last entry repeats, or a map of run
number), ``items`` per with_items index (a list or a map of index), ``default``
for anything not listed. A selector with nothing for a run or item runs the real
action. A ``parallel`` sub-task is mocked as ``PARENT/SUB``.

Expectations (all optional; a task key is ``NAME`` for its latest run or
``NAME#N`` for run N):

    status            succeeded | failed | timed_out | cancelled
    output            exact;  output_includes: only the keys given
    error             the workflow error: only the keys given; ``message`` is a substring
    ran               {task: number of runs}  (0: never ran)
    attempts          {task: attempts}
    order             the names of the task runs in start order, exactly
    inputs            {task: the rendered input the action received} exact; inputs_include: subset
                      (with_items: the list of item inputs; parallel: {sub-task: input})
    results           {task: result} exact; results_include: subset
    statuses          {task: status}
    errors            {task: error}, as ``error``
    vars              {name: value}: the listed variables at the end
    elapsed           virtual seconds from start to end

Everything runs on :class:`relayflow.harness.MemoryStack` with its virtual clock;
the worker hook ``execute`` serves the mocks. Across all cases of a workflow the
report lists the tasks that never ran and the transitions (one per ``on_*``,
``next[i]`` and ``decision[i]`` entry) that never fired.
"""
from __future__ import annotations

import contextlib
import difflib
import fnmatch
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import schemas
from .actions.allowlist import ActionModules
from .actions.builtin import default_registry
from .core import messages as _messages
from .core import yamlpos
from .core.conductor import ASK_ACTION, Conductor
from .core.errors import InputError
from .core.loader import parse_file, read_file
from .core.messages import AttemptFinished, DispatchAttempt, Message, StartChild, StartTimer
from .core.records import RUNNING, Execution, TaskRun, Unit
from .core.spec import FAIL, Branch, TaskSpec, Transition, WorkflowSpec
from .engine import UnknownExecution
from .harness import MemoryStack

# How a token-holding unit (approval, callback task) is answered, where the engine has it.
_CALLBACK = getattr(_messages, "CallbackReceived", None)
MAX_DELIVERIES = 200_000
STATUSES = ("succeeded", "failed", "timed_out", "cancelled")
FILE_FIELDS = {"workflow", "workflows", "cases", "description"}
CASE_FIELDS = {"name", "description", "input", "mocks", "child_mocks", "expect"}
OUTCOME_KEYS = {"result", "fail", "timeout", "real"}
SELECTOR_KEYS = {"runs", "items", "default"}
FAIL_FIELDS = {"type", "message", "result"}
EXPECT_FIELDS = {
    "status", "output", "output_includes", "error", "ran", "attempts", "order", "inputs", "inputs_include",
    "results", "results_include", "statuses", "errors", "vars", "elapsed",
}
_TASK_KEYED = ("attempts", "inputs", "inputs_include", "results", "results_include", "statuses", "errors")
_MISSING = object()


class TestFileError(Exception):
    """A test file that cannot be run; ``problems`` are ``FILE:LINE: message`` lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# -- mocks -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    kind: str  # result | fail | timeout | real
    result: Any = None
    error: dict[str, Any] | None = None
    after: float = 0.0


@dataclass(frozen=True)
class Mock:
    """What a mocked task does: per attempt, or chosen per run / per item first."""

    attempts: tuple[Outcome, ...] = ()
    runs: tuple[Mock, ...] | dict[int, Mock] | None = None
    items: dict[int, Mock] | None = None
    default: Mock | None = None

    def outcome(self, run: int, index: int | None, attempt: int) -> Outcome | None:
        chosen: Mock | None
        if self.runs is not None:
            if isinstance(self.runs, tuple):
                chosen = self.runs[min(run, len(self.runs)) - 1] if self.runs else None
            else:
                chosen = self.runs.get(run, self.default)
            return None if chosen is None else chosen.outcome(run, index, attempt)
        if self.items is not None:
            chosen = self.items.get(index, self.default) if index is not None else self.default
            return None if chosen is None else chosen.outcome(run, index, attempt)
        if not self.attempts:
            return self.default.outcome(run, index, attempt) if self.default else None
        return self.attempts[min(attempt, len(self.attempts)) - 1]


# -- the test file -------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    line: int
    input: Any
    mocks: dict[str, Mock]
    child_mocks: dict[str, dict[str, Mock]]
    expect: dict[str, Any]


@dataclass
class TestFile:
    path: str
    workflow_path: str
    spec: WorkflowSpec
    extra: list[WorkflowSpec]
    cases: list[Case]
    warnings: list[str] = field(default_factory=list)


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
    return _schema_validator(schema)


def _schema_validator(schema: Any) -> Callable[[Any], Any] | None:
    """The approval API's own check of a response (relayflow.schemas), or None for a schema it refuses."""
    try:
        return schemas.compile_schema(schema)
    except schemas.SchemaError:
        return None  # the approval itself reports a broken schema when it runs


def _schema_problem(validate: Callable[[Any], Any], answer: Any) -> str | None:
    """Why ``answer`` breaks the schema (as the approval API checks it), or None."""
    try:
        validate(answer)
    except schemas.SchemaMismatch as exc:
        return str(exc)
    return None


class MockRefused(Exception):
    """A mocked outcome the real service would refuse (an approval answer breaking its schema)."""


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
                problem = _schema_problem(self.answer_schema, raw["result"])
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
        for key in _TASK_KEYED:
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


def _siblings(workflow_path: str) -> Iterator[str]:
    folder = os.path.dirname(workflow_path) or "."
    own = os.path.abspath(workflow_path)
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if name.endswith((".yaml", ".yml")) and os.path.abspath(full) != own and os.path.isfile(full):
            yield full


def _sibling_spec(workflow_path: str, name: str) -> WorkflowSpec | None:
    for path in _siblings(workflow_path):
        spec, _ = parse_file(path)
        if spec is not None and spec.name == name:
            return spec
    return None


# -- coverage: which transitions fired -------------------------------------------------------------------

_SINK: list[tuple[str, str, str]] | None = None  # (workflow, task, entry) of every transition that fired


class _RecordingConductor(Conductor):
    """The conductor, noting which transition entries fire (their targets really scheduled).

    ``follow`` evaluates a finished run's entries in declaration order; the
    ``when`` values and decisions it computes are logged and replayed over the
    task's entries, and an entry counts as fired once ``fire_into`` received
    all of its targets.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._frames: list[dict[str, Any]] = []
        self._deciding = 0

    def condition(self, expr: Any, ctx: dict[str, Any]) -> bool:
        value = super().condition(expr, ctx)
        if self._frames and not self._deciding and not self._frames[-1]["firing"]:
            self._frames[-1]["log"].append(value)
        return value

    def decide(self, tr: Transition, ctx: dict[str, Any]) -> Branch | None:
        self._deciding += 1
        try:
            chosen = super().decide(tr, ctx)
        finally:
            self._deciding -= 1
        if self._frames:
            self._frames[-1]["log"].append(("decision", tr, chosen))
        return chosen

    def fire_into(self, target: str, source: str | None) -> None:
        if self._frames and source is not None:
            frame = self._frames[-1]
            frame["firing"] = True
            frame["targets"].append(target)
        super().fire_into(target, source)

    def follow(self, run: TaskRun) -> None:
        self._frames.append({"log": [], "targets": [], "firing": False})
        try:
            super().follow(run)
        finally:
            frame = self._frames.pop()
        if _SINK is not None:
            for entry in _replay(self.spec.tasks[run.task], run.status, frame["log"], frame["targets"]):
                _SINK.append((self.spec.name, run.task, entry))


def _replay(task: TaskSpec, status: str, log: list[Any], targets: list[str]) -> list[str]:
    fired: list[str] = []
    i = 0
    for tr in task.next:
        if tr.outcomes is not None and status not in tr.outcomes:
            continue
        if tr.decision is not None:
            if i >= len(log) or not isinstance(log[i], tuple):
                break
            _, _, chosen = log[i]
            i += 1
            if chosen is not None and (_fires(chosen.do, chosen.commands, targets)):
                index = next(k for k, b in enumerate(tr.decision) if b is chosen)
                fired.append(f"decision[{index}]")
            continue
        if tr.when is not None:
            if i >= len(log) or isinstance(log[i], tuple):
                break
            value = log[i]
            i += 1
            if not value:
                continue
        if _fires(tr.do, tr.commands, targets):
            fired.append(tr.origin)
    return fired


def _fires(do: tuple[str, ...], commands: frozenset[str], targets: list[str]) -> bool:
    """An entry whose ``when`` held fired when its tasks were scheduled, or it said noop / fail
    (after 'fail' nothing is scheduled: the workflow fails fast)."""
    if FAIL in commands or (commands and not do):
        return True
    return bool(do) and all(t in targets for t in do)


@contextlib.contextmanager
def _recording(sink: list[tuple[str, str, str]]) -> Iterator[None]:
    from . import engine as engine_module
    global _SINK
    original, saved = engine_module.Conductor, _SINK  # type: ignore[attr-defined]
    engine_module.Conductor = _RecordingConductor  # type: ignore[attr-defined]
    _SINK = sink
    try:
        yield
    finally:
        engine_module.Conductor = original  # type: ignore[attr-defined]
        _SINK = saved


def transition_entries(spec: WorkflowSpec) -> list[tuple[str, str, tuple[str, ...], int]]:
    """Every transition entry that schedules something or says noop / fail: (task, entry, targets, line)."""
    out = []
    for task in spec.tasks.values():
        for tr in task.next:
            if tr.decision is not None:
                for k, branch in enumerate(tr.decision):
                    if branch.do or branch.commands:
                        out.append((task.name, f"decision[{k}]", branch.do + tuple(sorted(branch.commands)),
                                    tr.line))
            elif tr.do or tr.commands:
                out.append((task.name, tr.origin, tr.do + tuple(sorted(tr.commands)), tr.line))
    return out


# -- running a case ---------------------------------------------------------------------------------------

class _TestStack(MemoryStack):
    """The memory stack with mocked tasks: ``execute`` answers dispatched attempts, and a scan
    before every step answers attempts that never reach a worker (sleeps, child workflows, waits)."""

    def __init__(self, mocks: dict[str, dict[str, Mock]], modules: ActionModules | None = None):
        super().__init__(registry=default_registry(modules), seed=0)
        self.mocks = mocks
        self.answered: set[tuple[str, str, int, int, int]] = set()
        queue = self.event_queue
        send = queue.send
        queue.send = lambda message: None if message is None else send(message)  # type: ignore[method-assign]
        start_child = self.engine.start_child

        def start_child_unless_mocked(cmd: StartChild) -> None:
            p = cmd.parent
            if self._outcome(p["execution_id"], p["task"], p["run"], p["unit"], p["attempt"]) is None:
                start_child(cmd)
            # else: the scan answers the mocked task; no child execution starts

        self.engine.start_child = start_child_unless_mocked  # type: ignore[method-assign]

    def _spec_of(self, execution_id: str) -> WorkflowSpec | None:
        head = self.store.get_execution(execution_id)
        if head is None:
            return None
        return self.engine.spec(head.workflow, head.spec_version)

    def _outcome(self, execution_id: str, task: str, run: int, unit: int, attempt: int) -> Outcome | None:
        spec = self._spec_of(execution_id)
        if spec is None or spec.name not in self.mocks:
            return None
        mocks = self.mocks[spec.name]
        tspec = spec.tasks.get(task)
        if tspec is None:
            return None
        if tspec.type == "parallel" and unit < len(tspec.subtasks):
            mock = mocks.get(f"{task}/{tspec.subtasks[unit].name}")
            index = None
        else:
            mock = mocks.get(task)
            index = unit if tspec.with_items is not None else None
        if mock is None:
            return None
        outcome = mock.outcome(run, index, attempt)
        return None if outcome is None or outcome.kind == "real" else outcome

    def _unit(self, execution_id: str, task: str, run: int, index: int) -> Unit | None:
        record = self.store.get_run(execution_id, task, run)
        if record is not None and record.kind == "single":
            return record.unit
        return self.store.get_unit(execution_id, task, run, index)

    def _answer(self, key: tuple[str, str, int, int, int], outcome: Outcome, unit: Unit | None) -> Message | None:
        """The outcome's message, or None when it hangs or arrives later (on a timer).

        A unit waiting for the outside world (a ``core.ask`` inquiry, a ``callback: true``
        task) holds a token; its result or failure comes back through that token, as the
        approval API or the callback would deliver it.
        """
        self.answered.add(key)
        eid, task, run, index, attempt = key
        token = getattr(unit, "token", None) if unit is not None else None
        if outcome.kind == "timeout":
            if unit is not None and unit.timeout_timer:
                return None  # hangs; the task's own timeout fires
            message: Message = AttemptFinished(eid, task, run, index, attempt, "timed_out", None, {
                "type": "Timeout", "message": f"attempt {attempt} timed out (mocked)"})
        elif token and _CALLBACK is not None:
            status = "failed" if outcome.kind == "fail" else "succeeded"
            if status == "succeeded":
                self._check_answer(eid, task, index, unit, outcome.result)
            # through the door the real answer would use: the inquiry API for core.ask, the callback API otherwise
            via = "inquiry" if self.store.get_inquiry(token) is not None else "callback"
            message = _CALLBACK(eid, token, status, outcome.result,
                                dict(outcome.error or {}) if outcome.kind == "fail" else None,
                                via=via, by="relayflow test (mock)")
        elif outcome.kind == "fail":
            message = AttemptFinished(eid, task, run, index, attempt, "failed", outcome.result,
                                      dict(outcome.error or {}))
        else:
            message = AttemptFinished(eid, task, run, index, attempt, "succeeded", outcome.result)
        if outcome.after > 0:
            self.timers.start(StartTimer(f"mock/{eid}/{task}/{run}/{index}/{attempt}",
                                         self.clock.now() + outcome.after, message.to_dict()))
            return None
        return message

    def _check_answer(self, eid: str, task: str, index: int, unit: Unit | None, answer: Any) -> None:
        """A mocked core.ask answer is held to the schema the inquiry was opened with, as the API holds
        a real one; the schema is the rendered input's, so a templated schema is checked too."""
        spec = self._spec_of(eid)
        if spec is None or task not in spec.tasks:
            return
        owner = spec.tasks[task]
        action = owner.subtasks[index].action if owner.type == "parallel" else owner.action
        schema = (unit.input or {}).get("schema") if action == ASK_ACTION and unit is not None and isinstance(
            unit.input, dict) else None
        validate = _schema_validator(schema) if isinstance(schema, dict) else None
        problem = _schema_problem(validate, answer) if validate is not None else None
        if problem:
            raise MockRefused(f"the mocked answer to {task} does not match its schema ({problem}); the approval "
                              "API would refuse it")

    def execute(self, cmd: DispatchAttempt) -> Message:  # type: ignore[override]  # see _answer
        key = (cmd.execution_id, cmd.task, cmd.run, cmd.unit, cmd.attempt)
        outcome = self._outcome(*key)
        if outcome is None:
            self.answered.add(key)
            return super().execute(cmd)
        if key in self.answered:  # a duplicate delivery: the answer is on its way
            return None  # type: ignore[return-value]
        unit = self._unit(cmd.execution_id, cmd.task, cmd.run, cmd.unit)
        if cmd.callback and getattr(unit, "token", None) and _CALLBACK is not None:
            # the action hands out its token (the worker's ack); the mocked outcome comes back through it
            message = self._answer(key, outcome, unit)
            if message is not None:
                self.event_queue.send(message)
            return AttemptFinished(*key, "succeeded", None)
        return self._answer(key, outcome, unit)  # type: ignore[return-value]

    def _scan(self) -> bool:
        """Answer running attempts of mocked tasks that no worker will see; True if any."""
        queued = {(m.execution_id, m.task, m.run, m.unit, m.attempt)
                  for m in self.task_queue.messages if isinstance(m, DispatchAttempt)}
        answered_any = False
        for head in list(self.store.executions.values()):
            if head.final or head.workflow not in self.mocks:
                continue
            names = {label.split("/", 1)[0] for label in self.mocks[head.workflow]}
            for run in self.store.list_runs(head.id):
                if run.final or run.task not in names:
                    continue
                units = [run.unit] if run.kind == "single" else self.store.list_units(head.id, run.task, run.run)
                for unit in units:
                    if unit is None or unit.status != RUNNING:
                        continue
                    key = (head.id, run.task, run.run, unit.index, unit.attempt)
                    if key in self.answered or key in queued:
                        continue
                    outcome = self._outcome(*key)
                    if outcome is None:
                        continue
                    if unit.timer:  # a core.sleep (or similar) timer the mock replaces
                        self.timers.cancel(unit.timer)
                    message = self._answer(key, outcome, unit)
                    if message is not None:
                        self.event_queue.send(message)
                    answered_any = True
        return answered_any

    def step(self) -> bool:
        if self.mocks:
            self._scan()
        if super().step():
            return True
        return bool(self.mocks) and self._scan()


@dataclass
class Mismatch:
    field: str
    expected: Any
    got: Any
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "expected": _jsonable(self.expected), "got": _jsonable(self.got)}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class CaseResult:
    file: str
    name: str
    line: int
    mismatches: list[Mismatch] = field(default_factory=list)
    error: str | None = None  # the case could not run to the end
    execution: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches


def _jsonable(value: Any) -> Any:
    return "(missing)" if value is _MISSING else value


def _register_all(stack: MemoryStack, tf: TestFile) -> None:
    for path in _siblings(tf.workflow_path):
        spec, _ = parse_file(path)
        if spec is not None:
            stack.register(spec)
    for spec in tf.extra:
        stack.register(spec)
    stack.register(tf.spec)


def run_case(tf: TestFile, case: Case, sink: list[tuple[str, str, str]],
             action_modules: tuple[str, ...] = ()) -> CaseResult:
    """Run one case; ``python:`` actions come from the workflow's folder and ``action_modules``."""
    from .cli import contract_result
    out = CaseResult(tf.path, case.name, case.line)
    mocks = {tf.spec.name: case.mocks, **case.child_mocks} if case.mocks or case.child_mocks else {}
    folder = os.path.dirname(os.path.abspath(tf.workflow_path))
    stack = _TestStack({k: v for k, v in mocks.items() if v}, ActionModules(action_modules, [folder]))
    _register_all(stack, tf)
    if folder not in sys.path:  # python:<module>:<function> actions beside the workflow
        sys.path.insert(0, folder)
    with _recording(sink):
        try:
            eid = stack.start(tf.spec.name, case.input)
        except InputError as exc:
            out.error = "the input does not match the workflow's inputs: " + "; ".join(exc.problems)
            return out
        try:
            stack.pump(max_deliveries=MAX_DELIVERIES)
        except RuntimeError as exc:
            out.error = f"the workflow did not finish: {exc}"
        except MockRefused as exc:
            out.error = str(exc)
            return out
    execution = contract_result(stack.describe(eid))
    out.execution = execution
    if out.error is None and execution["status"] not in STATUSES:
        waiting = [f"{t['name']}#{t['run']}" for t in execution["tasks"] if t["status"] not in
                   STATUSES + ("skipped",)]
        out.error = (f"the workflow did not finish: it is still {execution['status']}"
                     + (f", waiting on {', '.join(waiting)} (nothing will answer it here: mock it, "
                        f"or give it a timeout)" if waiting else ""))
        return out
    head = _head(stack, eid)
    elapsed = (head.finished_at if head.finished_at is not None else stack.clock.now()) - head.created_at
    out.mismatches = check(case.expect, execution, stack, eid, elapsed)
    return out


# -- checking --------------------------------------------------------------------------------------------

def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def diff(expected: Any, got: Any, path: str, subset: bool = False) -> list[Mismatch]:
    """Field-by-field differences; with ``subset`` only the keys ``expected`` gives are compared."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key, value in expected.items():
            if key not in got:
                out.append(Mismatch(f"{path}.{key}", value, _MISSING))
            else:
                out.extend(diff(value, got[key], f"{path}.{key}", subset))
        if not subset:
            out.extend(Mismatch(f"{path}.{key}", _MISSING, got[key], "not expected")
                       for key in got if key not in expected)
        return out
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        pairs = enumerate(zip(expected, got, strict=True))
        return [m for i, (e, g) in pairs for m in diff(e, g, f"{path}[{i}]", subset)]
    return [] if _same(expected, got) else [Mismatch(path, expected, got)]


def _error_diff(expected: Any, got: Any, path: str) -> list[Mismatch]:
    if expected is None:
        return [] if got is None else [Mismatch(path, None, got)]
    if not isinstance(got, dict):
        return [Mismatch(path, expected, got)]
    out = []
    for key, value in expected.items():
        if key == "message" and isinstance(value, str):
            if value not in str(got.get("message", "")):
                out.append(Mismatch(f"{path}.message", value, got.get("message", _MISSING), "expected a substring"))
        elif key not in got:
            out.append(Mismatch(f"{path}.{key}", value, _MISSING))
        else:
            out.extend(diff(value, got[key], f"{path}.{key}", subset=True))
    return out


def _run_of(execution: dict[str, Any], key: str) -> dict[str, Any] | None:
    name, _, number = key.partition("#")
    runs = [t for t in execution["tasks"] if t["name"] == name]
    if not runs:
        return None
    if number:
        return next((t for t in runs if t["run"] == int(number)), None)
    return max(runs, key=lambda t: t["run"])


def _inputs_of(stack: MemoryStack, eid: str, spec: WorkflowSpec, task: str, run: int) -> Any:
    record = stack.store.get_run(eid, task, run)
    if record is None:
        return _MISSING
    if record.kind == "single":
        return record.unit.input if record.unit is not None else _MISSING
    units = stack.store.list_units(eid, task, run)
    if record.kind == "parallel":
        subs = spec.tasks[task].subtasks
        return {subs[u.index].name: u.input for u in units}
    return [u.input for u in units]


def _head(stack: MemoryStack, eid: str) -> Execution:
    head = stack.store.get_execution(eid)
    if head is None:
        raise UnknownExecution(f"no execution {eid!r}")
    return head


def check(expect: dict[str, Any], execution: dict[str, Any], stack: MemoryStack, eid: str,
          elapsed: float) -> list[Mismatch]:
    head = _head(stack, eid)
    spec = stack.engine.spec(head.workflow, head.spec_version)
    out: list[Mismatch] = []
    if "status" in expect and execution["status"] != expect["status"]:
        out.append(Mismatch("status", expect["status"], execution["status"]))
    if "output" in expect:
        out.extend(diff(expect["output"], execution["output"], "output"))
    if "output_includes" in expect:
        out.extend(diff(expect["output_includes"], execution["output"], "output", subset=True))
    if "error" in expect:
        out.extend(_error_diff(expect["error"], execution["error"], "error"))
    for name, count in (expect.get("ran") or {}).items():
        got = sum(1 for t in execution["tasks"] if t["name"] == name)
        if got != count:
            out.append(Mismatch(f"ran.{name}", count, got, "runs"))
    if "order" in expect:
        got_order = [t["name"] for t in execution["tasks"]]
        if got_order != expect["order"]:
            out.append(Mismatch("order", expect["order"], got_order))
    simple = (("attempts", "attempts"), ("statuses", "status"), ("results", "result"))
    for key, attr in simple:
        for name, value in (expect.get(key) or {}).items():
            run = _run_of(execution, str(name))
            if run is None:
                out.append(Mismatch(f"{key}.{name}", value, _MISSING, "the task never ran"))
            elif key == "results":
                out.extend(diff(value, run[attr], f"{key}.{name}"))
            elif not _same(value, run[attr]):
                out.append(Mismatch(f"{key}.{name}", value, run[attr]))
    for name, value in (expect.get("results_include") or {}).items():
        run = _run_of(execution, str(name))
        out.extend([Mismatch(f"results.{name}", value, _MISSING, "the task never ran")] if run is None
                   else diff(value, run["result"], f"results.{name}", subset=True))
    for name, value in (expect.get("errors") or {}).items():
        run = _run_of(execution, str(name))
        out.extend([Mismatch(f"errors.{name}", value, _MISSING, "the task never ran")] if run is None
                   else _error_diff(value, run["error"], f"errors.{name}"))
    for key, subset in (("inputs", False), ("inputs_include", True)):
        for name, value in (expect.get(key) or {}).items():
            run = _run_of(execution, str(name))
            inputs = _MISSING if run is None else _inputs_of(stack, eid, spec, run["name"], run["run"])
            if inputs is _MISSING:
                out.append(Mismatch(f"inputs.{name}", value, _MISSING, "the task never ran"))
            else:
                out.extend(diff(value, inputs, f"inputs.{name}", subset))
    if "vars" in expect:
        got_vars = stack.store.list_vars(eid)
        for name, value in expect["vars"].items():
            out.extend([Mismatch(f"vars.{name}", value, _MISSING)] if name not in got_vars
                       else diff(value, got_vars[name], f"vars.{name}"))
    if "elapsed" in expect and abs(elapsed - expect["elapsed"]) > 1e-6:
        out.append(Mismatch("elapsed", expect["elapsed"], round(elapsed, 6), "virtual seconds"))
    return out


# -- running files and reporting ---------------------------------------------------------------------------

@dataclass
class Coverage:
    workflow: str
    file: str
    tasks: list[str]
    ran: set[str] = field(default_factory=set)
    entries: list[tuple[str, str, tuple[str, ...], int]] = field(default_factory=list)
    fired: set[tuple[str, str]] = field(default_factory=set)
    cases: int = 0

    @property
    def never_ran(self) -> list[str]:
        return [t for t in self.tasks if t not in self.ran]

    @property
    def never_fired(self) -> list[tuple[str, str, tuple[str, ...], int]]:
        return [e for e in self.entries if (e[0], e[1]) not in self.fired]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow, "file": self.file, "cases": self.cases,
            "tasks": {"total": len(self.tasks), "ran": len(self.tasks) - len(self.never_ran),
                      "never_ran": self.never_ran},
            "transitions": {"total": len(self.entries), "fired": len(self.entries) - len(self.never_fired),
                            "never_fired": [{"task": t, "entry": e, "targets": list(d), "line": line}
                                            for t, e, d, line in self.never_fired]},
        }


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    bad_files: list[str] = field(default_factory=list)  # problems, FILE:LINE: message
    coverage: dict[str, Coverage] = field(default_factory=dict)
    files: list[tuple[str, str, str]] = field(default_factory=list)  # (test file, workflow name, workflow file)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def exit_code(self) -> int:
        return 2 if self.bad_files else 1 if self.failed else 0


# A folder given to ``relayflow test`` stands for the files in it and its subfolders named so.
TEST_FILE_PATTERNS = ("*_test.yaml", "*_test.yml", "test_*.yaml", "test_*.yml")
_SKIPPED_FOLDERS = {"node_modules", "__pycache__", "venv", "site-packages"}


def is_test_file_name(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in TEST_FILE_PATTERNS)


def _yaml_keys(path: str) -> set[str] | None:
    """The top-level keys of a YAML mapping file; None when it is not one (or not readable)."""
    text, _ = read_file(path)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return {k for k in data if isinstance(k, str)} if isinstance(data, dict) else None


def _is_workflow_file(path: str) -> bool:
    keys = _yaml_keys(path)
    return keys is not None and "tasks" in keys and "cases" not in keys


def _walk_test_files(folder: str) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_FOLDERS)
        for name in sorted(files):
            if is_test_file_name(name):
                yield os.path.normpath(os.path.join(root, name))


def _tests_of(workflow_path: str) -> list[str]:
    """Test files under the workflow's folder whose ``workflow`` is that file."""
    target = os.path.abspath(workflow_path)
    found = []
    for path in _walk_test_files(os.path.dirname(workflow_path) or "."):
        text, _ = read_file(path)
        try:
            data = yaml.safe_load(text) if text is not None else None
        except yaml.YAMLError:
            continue
        wf = data.get("workflow") if isinstance(data, dict) else None
        if isinstance(wf, str) and os.path.abspath(os.path.join(os.path.dirname(path), wf)) == target:
            found.append(path)
    return found


def expand(paths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The test files ``paths`` stand for, with problems and notes.

    A file is taken as given, unless it is a workflow: then the test files naming it (in its
    folder and below) run. A folder stands for the files in it and its subfolders named like
    TEST_FILE_PATTERNS; one so named that holds a workflow is left out, with a note."""
    out: list[str] = []
    problems: list[str] = []
    notes: list[str] = []
    patterns = " or ".join(TEST_FILE_PATTERNS[::2])
    for path in paths:
        if os.path.isdir(path):
            found = []
            for candidate in _walk_test_files(path):
                if _is_workflow_file(candidate):
                    notes.append(f"{candidate}: skipped: named like a test file, but it is a workflow "
                                 f"(it has 'tasks', not 'cases')")
                else:
                    found.append(candidate)
            if not found:
                problems.append(f"{path}: no test files here or in its subfolders (test files are named "
                                f"{patterns})")
            out.extend(found)
        elif os.path.isfile(path) and _is_workflow_file(path):
            tests = _tests_of(path)
            if not tests:
                problems.append(f"{path}:1: this is a workflow, not a test file, and no test file under "
                                f"{os.path.dirname(path) or '.'} names it; write one (named {patterns}) with "
                                f"'workflow: <path to this file>' and 'cases'")
            out.extend(tests)
        else:
            out.append(path)
    return list(dict.fromkeys(out)), problems, notes


def run_files(paths: list[str], action_modules: tuple[str, ...] = ()) -> Report:
    report = Report()
    files, report.bad_files, report.warnings = expand(paths)
    for path in files:
        try:
            tf = load_test_file(path)
        except TestFileError as exc:
            report.bad_files.extend(exc.problems)
            continue
        report.warnings.extend(tf.warnings)
        report.files.append((path, tf.spec.name, tf.workflow_path))
        cov = report.coverage.get(os.path.abspath(tf.workflow_path))
        if cov is None:
            cov = report.coverage[os.path.abspath(tf.workflow_path)] = Coverage(
                tf.spec.name, tf.workflow_path, list(tf.spec.tasks), entries=transition_entries(tf.spec))
        for case in tf.cases:
            sink: list[tuple[str, str, str]] = []
            result = run_case(tf, case, sink, action_modules)
            report.results.append(result)
            cov.cases += 1
            for workflow, task, entry in sink:
                if workflow == tf.spec.name:
                    cov.fired.add((task, entry))
            for run in (result.execution or {}).get("tasks") or []:
                if run["status"] not in ("skipped", "cancelled") or run["attempts"]:
                    cov.ran.add(run["name"])
    return report


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(missing)"
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        return repr(value)


def _mismatch_lines(m: Mismatch) -> list[str]:
    expected, got = _show(m.expected), _show(m.got)
    if m.note == "not expected":
        return [f"{m.field}: not expected, got {got}"]
    tail = f" ({m.note})" if m.note and m.note != "runs" else ""
    if len(expected) + len(got) <= 60:
        return [f"{m.field}: expected {expected}, got {got}{tail}"]
    return [f"{m.field}:{tail}", f"  expected: {expected}", f"  got:      {got}"]


def _runs_line(execution: dict[str, Any]) -> str:
    parts = []
    for t in execution["tasks"]:
        part = f"{t['name']}#{t['run']} {t['status']}"
        if t["attempts"] and t["attempts"] > 1:
            part += f" ({t['attempts']} attempts)"
        parts.append(part)
    return ", ".join(parts) or "(no task ran)"


def _display(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def format_text(report: Report) -> str:
    lines: list[str] = []
    for problem in report.bad_files:
        lines.append(problem)
    for warning in report.warnings:
        lines.append(warning)
    by_file: dict[str, list[CaseResult]] = {}
    for r in report.results:
        by_file.setdefault(r.file, []).append(r)
    for path, name, wf_path in report.files:
        lines.append(f"{path}: workflow {name} ({_display(wf_path)})")
        for r in by_file.get(path, []):
            if r.passed:
                lines.append(f"  PASS  {r.name}")
                continue
            lines.append(f"  FAIL  {r.name}  ({r.file}:{r.line})")
            if r.error:
                lines.append(f"          {r.error}")
            for m in r.mismatches:
                lines.extend(f"          {row}" for row in _mismatch_lines(m))
            if r.execution is not None:
                lines.append(f"          ran: {_runs_line(r.execution)}")
                if r.execution.get("error"):
                    lines.append(f"          workflow error: {_show(r.execution['error'])}")
    for cov in report.coverage.values():
        tasks_ran = len(cov.tasks) - len(cov.never_ran)
        fired = len(cov.entries) - len(cov.never_fired)
        lines.append(f"coverage of {cov.workflow} ({_display(cov.file)}, {cov.cases} "
                     f"case{'s' if cov.cases != 1 else ''}): {tasks_ran}/{len(cov.tasks)} tasks ran, "
                     f"{fired}/{len(cov.entries)} transitions fired")
        if cov.never_ran:
            lines.append(f"  never ran: {', '.join(cov.never_ran)}")
        if cov.never_fired:
            lines.append("  never fired:")
            for task, entry, targets, line in cov.never_fired:
                lines.append(f"    {task} -> {', '.join(targets)}  ({entry}, line {line})")
    passed = len(report.results) - len(report.failed)
    summary = f"{len(report.results)} case{'s' if len(report.results) != 1 else ''}: {passed} passed, " \
              f"{len(report.failed)} failed"
    if report.bad_files:
        summary += f"; test files with problems: {len({p.split(':', 1)[0] for p in report.bad_files})}"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> dict[str, Any]:
    return {
        "passed": report.exit_code == 0,
        "summary": {"cases": len(report.results), "passed": len(report.results) - len(report.failed),
                    "failed": len(report.failed), "bad_files": len(report.bad_files)},
        "problems": report.bad_files,
        "warnings": report.warnings,
        "files": [{"file": path, "workflow": name, "workflow_file": wf_path,
                   "cases": [{"name": r.name, "line": r.line, "passed": r.passed, "error": r.error,
                              "mismatches": [m.to_dict() for m in r.mismatches], "execution": r.execution}
                             for r in report.results if r.file == path]}
                  for path, name, wf_path in report.files],
        "coverage": [cov.to_dict() for cov in report.coverage.values()],
    }


__all__ = ["Case", "CaseResult", "Coverage", "Mismatch", "Mock", "Outcome", "Report", "TestFile", "TestFileError",
           "check", "diff", "format_text", "load_test_file", "run_case", "run_files", "to_json",
           "transition_entries"]
