"""Comparing an execution with a case's expectations, field by field."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.records import Execution
from ..core.spec import WorkflowSpec
from ..errors import UnknownExecutionError
from ..harness import MemoryStack
from ..summary import ExecutionSummary, TaskRunSummary
from .model import MISSING


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




def _jsonable(value: Any) -> Any:
    return "(missing)" if value is MISSING else value



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
                out.append(Mismatch(f"{path}.{key}", value, MISSING))
            else:
                out.extend(diff(value, got[key], f"{path}.{key}", subset))
        if not subset:
            out.extend(Mismatch(f"{path}.{key}", MISSING, got[key], "not expected")
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
                out.append(Mismatch(f"{path}.message", value, got.get("message", MISSING), "expected a substring"))
        elif key not in got:
            out.append(Mismatch(f"{path}.{key}", value, MISSING))
        else:
            out.extend(diff(value, got[key], f"{path}.{key}", subset=True))
    return out


def _run_of(execution: ExecutionSummary, key: str) -> TaskRunSummary | None:
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
        return MISSING
    if record.kind == "single":
        return record.unit.input if record.unit is not None else MISSING
    units = stack.store.list_units(eid, task, run)
    if record.kind == "parallel":
        subs = spec.tasks[task].subtasks
        return {subs[u.index].name: u.input for u in units}
    return [u.input for u in units]


def head_of(stack: MemoryStack, eid: str) -> Execution:
    head = stack.store.get_execution(eid)
    if head is None:
        raise UnknownExecutionError(eid)
    return head


def check(expect: dict[str, Any], execution: ExecutionSummary, stack: MemoryStack, eid: str,
          elapsed: float) -> list[Mismatch]:
    head = head_of(stack, eid)
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
                out.append(Mismatch(f"{key}.{name}", value, MISSING, "the task never ran"))
            else:
                actual = dict(run)[attr]
                if key == "results":
                    out.extend(diff(value, actual, f"{key}.{name}"))
                elif not _same(value, actual):
                    out.append(Mismatch(f"{key}.{name}", value, actual))
    for name, value in (expect.get("results_include") or {}).items():
        run = _run_of(execution, str(name))
        out.extend([Mismatch(f"results.{name}", value, MISSING, "the task never ran")] if run is None
                   else diff(value, run["result"], f"results.{name}", subset=True))
    for name, value in (expect.get("errors") or {}).items():
        run = _run_of(execution, str(name))
        out.extend([Mismatch(f"errors.{name}", value, MISSING, "the task never ran")] if run is None
                   else _error_diff(value, run["error"], f"errors.{name}"))
    for key, subset in (("inputs", False), ("inputs_include", True)):
        for name, value in (expect.get(key) or {}).items():
            run = _run_of(execution, str(name))
            inputs = MISSING if run is None else _inputs_of(stack, eid, spec, run["name"], run["run"])
            if inputs is MISSING:
                out.append(Mismatch(f"inputs.{name}", value, MISSING, "the task never ran"))
            else:
                out.extend(diff(value, inputs, f"inputs.{name}", subset))
    if "vars" in expect:
        got_vars = stack.store.list_vars(eid)
        for name, value in expect["vars"].items():
            out.extend([Mismatch(f"vars.{name}", value, MISSING)] if name not in got_vars
                       else diff(value, got_vars[name], f"vars.{name}"))
    if "elapsed" in expect and abs(elapsed - expect["elapsed"]) > 1e-6:
        out.append(Mismatch("elapsed", expect["elapsed"], round(elapsed, 6), "virtual seconds"))
    return out


