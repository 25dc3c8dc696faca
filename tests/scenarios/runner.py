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
"""
from __future__ import annotations

import glob
import os
from typing import Any

import yaml

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
            raise ActionFailed(step["fail"])
        if step == "echo":
            return payload
        return step


def build_stack(case: dict[str, Any], faults: Faults | None = None) -> MemoryStack:
    registry = default_registry()
    for name, script in (case.get("actions") or {}).items():
        registry.register(name, ScriptedAction(script))
    stack = MemoryStack(registry=registry, faults=faults, seed=0)
    for child in case.get("children") or []:
        stack.register(load_text(yaml.safe_dump(child, sort_keys=False), "child.yaml"))
    stack.register(load_text(yaml.safe_dump(case["workflow"], sort_keys=False), "workflow.yaml"))
    return stack


def run_case(case: dict[str, Any], faults: Faults | None = None) -> tuple[dict[str, Any], MemoryStack, float]:
    stack = build_stack(case, faults)
    t0 = stack.clock.now()
    result = stack.run(case["workflow"]["name"], case.get("input"), max_deliveries=200_000)
    return result, stack, stack.clock.now() - t0


def check(case: dict[str, Any], result: dict[str, Any], elapsed: float) -> None:
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
