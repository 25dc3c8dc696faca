"""Scenarios written as data, replayed through the real conductor.

A scenario file holds a list of cases:

    - name: what the case shows
      workflow: {...}            # the workflow under test (a mapping, as in a file)
      children: [{...}, ...]     # other workflows it calls by name (optional)
      input: {...}               # optional
      actions: {name: spec}      # optional scripted python actions, see ScriptedAction
      expect:
        status: succeeded
        output: {...}            # exact, when given
        error: {...}             # every given key must match (message: a substring)
        runs: [[task, run, status, attempts], ...]   # exact, in start order
        results: {task: result}  # the latest run's result, per task listed
        errors: {task: {...}}    # the latest run's error, subset match
        elapsed: 12.5            # virtual seconds from start to end
        elapsed_between: [lo, hi]  # virtual seconds, inclusive bounds
        vars: {...}              # the execution's variables at the end, exact
        calls: {action: 3}       # how many times each scripted action ran
        payloads: {action: [...]}  # the input each call of a scripted action received, in call order
        run_counts: {task: 3}    # how many runs each listed task had
        run_results: {"task#2": result}   # the result of one given run
        run_errors: {"task#2": {...}}     # the error of one given run, subset match
        units: {task: [[index, status, attempts], ...]}   # the latest run's units (with_items, parallel)
        invalid: "message"       # instead of the above: loading the workflow fails validation with this message
        input_error: "message"   # instead of the above: starting is refused with an InputError holding this
                                 # message, and nothing is written or sent
      order_free: false          # the run order depends on delivery order: skipped under duplicate delivery
      xfail: "BUG: ..."          # a known engine bug: the case is expected to fail (strict)

A scripted step is a result, "echo" (return the input), {fail: message} (ActionFailed,
optionally with type: T and result: R), or {raise: ExceptionName, message: text} (a plain Python exception).
"""
from __future__ import annotations

import glob
import os
from typing import Any

import yaml

from relayflow.actions.allowlist import ActionModules
from relayflow.actions.builtin import default_registry
from relayflow.core.loader import load_text
from relayflow.harness import Faults, MemoryStack

HERE = os.path.dirname(__file__)


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(glob.glob(os.path.join(HERE, "*.yaml"))):
        with open(path, encoding="utf-8") as fh:
            for case in yaml.safe_load(fh):
                cases.append((f"{os.path.basename(path)[:-5]}: {case['name']}", case))
    return cases


class ScriptedAction:
    """An action whose outcome per attempt is scripted: a list of results or {fail: message}.

    Keyed by attempt number, not by call, so a duplicated delivery (which runs
    the same attempt twice) sees the same outcome.
    """

    def __init__(self, script: list[Any]):
        self.script = script
        self.calls: list[Any] = []

    def __call__(self, payload: Any, ctx: Any) -> Any:
        from relayflow.actions.errors import ActionFailed
        step = self.script[min(ctx.attempt - 1, len(self.script) - 1)] if self.script else None
        self.calls.append(payload)
        if isinstance(step, dict) and "fail" in step:
            raise ActionFailed(step["fail"], type=step.get("type", "ActionFailed"), result=step.get("result"))
        if isinstance(step, dict) and "raise" in step:
            import builtins
            raise getattr(builtins, step["raise"])(step.get("message", ""))
        if step == "echo":
            return payload
        return step


def build_stack(case: dict[str, Any], faults: Faults | None = None, defer_start: bool = False) -> MemoryStack:
    # The scenarios' python: actions live in tests/scenarios/actions_module.py, the one declared module.
    registry = default_registry(ActionModules(["tests.scenarios.actions_module"]))
    scripted = {}
    for name, script in (case.get("actions") or {}).items():
        scripted[name] = ScriptedAction(script)
        registry.register(name, scripted[name])
    stack = MemoryStack(registry=registry, faults=faults, seed=0, defer_start=defer_start)
    stack.scripted = scripted  # type: ignore[attr-defined]
    for child in case.get("children") or []:
        stack.register(load_text(yaml.safe_dump(child, sort_keys=False), "child.yaml"))
    stack.register(load_text(yaml.safe_dump(case["workflow"], sort_keys=False), "workflow.yaml"))
    return stack


def check_invalid(case: dict[str, Any]) -> None:
    """For ``expect: {invalid: text}``: the workflow must be rejected before anything runs."""
    from relayflow.core.errors import ValidationError
    try:
        build_stack(case)
    except ValidationError as exc:
        assert case["expect"]["invalid"] in str(exc), str(exc)
    else:
        raise AssertionError("the workflow loaded, expected a validation error")


def check_input_error(case: dict[str, Any]) -> None:
    """For ``expect: {input_error: text}``: starting is refused before anything is written."""
    from relayflow.core.errors import InputError
    stack = build_stack(case)
    try:
        stack.start(case["workflow"]["name"], case.get("input"))
    except InputError as exc:
        assert case["expect"]["input_error"] in str(exc), str(exc)
    else:
        raise AssertionError("the execution started, expected an input error")
    assert not stack.store.executions and not stack.task_queue.messages and not stack.event_queue.messages \
        and stack.timers.next_due() is None and not stack.bus.events, "something was written or sent"


def run_case(case: dict[str, Any], faults: Faults | None = None,
             defer_start: bool = False) -> tuple[dict[str, Any], MemoryStack, float]:
    """``defer_start`` queues the start as a message (as deployed), so it can be duplicated too."""
    stack = build_stack(case, faults, defer_start)
    t0 = stack.clock.now()
    result = stack.run(case["workflow"]["name"], case.get("input"), max_deliveries=200_000)
    return result, stack, stack.clock.now() - t0


def check(case: dict[str, Any], result: dict[str, Any], elapsed: float, stack: MemoryStack | None = None) -> None:
    expect = case["expect"]
    assert result["status"] == expect["status"], f"status {result['status']}, error {result['error']}"
    if "output" in expect:
        assert result["output"] == expect["output"]
    if "error" in expect:
        _subset(expect["error"], result["error"], "error")
    if "runs" in expect:
        got = [[t["name"], t["run"], t["status"], t["attempts"]] for t in result["tasks"]]
        assert got == expect["runs"]
    latest = {t["name"]: t for t in result["tasks"]}
    for task, value in (expect.get("results") or {}).items():
        assert latest[task]["result"] == value, f"result of {task}"
    for task, value in (expect.get("errors") or {}).items():
        _subset(value, latest[task]["error"], f"error of {task}")
    if "elapsed" in expect:
        assert abs(elapsed - expect["elapsed"]) < 1e-6, f"elapsed {elapsed}"
    if "elapsed_between" in expect:
        lo, hi = expect["elapsed_between"]
        assert lo <= elapsed <= hi, f"elapsed {elapsed} not in [{lo}, {hi}]"
    for task, count in (expect.get("run_counts") or {}).items():
        assert sum(1 for t in result["tasks"] if t["name"] == task) == count, f"runs of {task}"
    by_run = {f"{t['name']}#{t['run']}": t for t in result["tasks"]}
    for key, value in (expect.get("run_results") or {}).items():
        assert key in by_run, f"no run {key}"
        assert by_run[key]["result"] == value, f"result of {key}"
    for key, value in (expect.get("run_errors") or {}).items():
        assert key in by_run, f"no run {key}"
        _subset(value, by_run[key]["error"], f"error of {key}")
    needs_stack = [k for k in ("vars", "calls", "payloads", "units") if k in expect]
    if needs_stack:
        assert stack is not None, f"{needs_stack} need the stack: call check(case, result, elapsed, stack)"
    eid = result["execution_id"]
    if "vars" in expect:
        assert stack.store.list_vars(eid) == expect["vars"]
    for name, count in (expect.get("calls") or {}).items():
        assert len(stack.scripted[name].calls) == count, f"calls of {name}: {len(stack.scripted[name].calls)}"
    for name, payloads in (expect.get("payloads") or {}).items():
        assert stack.scripted[name].calls == payloads, f"payloads of {name}"
    for task, units in (expect.get("units") or {}).items():
        run = max(t["run"] for t in result["tasks"] if t["name"] == task)
        got = [[u.index, u.status, u.attempt] for u in stack.store.list_units(eid, task, run)]
        assert got == units, f"units of {task}"


def _subset(expected: Any, got: Any, where: str) -> None:
    if expected is None:
        assert got is None, f"{where}: expected null, got {got}"
        return
    assert isinstance(got, dict), f"{where}: expected {expected}, got {got}"
    for key, value in expected.items():
        if key == "message":
            assert value in (got.get("message") or ""), f"{where}.message: {got.get('message')!r} lacks {value!r}"
        else:
            assert got.get(key) == value, f"{where}.{key}: {got.get(key)!r} != {value!r}"
