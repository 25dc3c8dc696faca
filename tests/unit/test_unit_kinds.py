"""The unit kinds and the built-in manifest: one table the loader, the worker's registry
and the conductor all read, and a kind of unit added as one module."""
from __future__ import annotations

from typing import Any

import pytest

from relayflow.actions.builtin import default_registry
from relayflow.core import builtins, units
from relayflow.core.errors import ValidationError
from relayflow.core.loader import load_text
from relayflow.core.records import TaskRun, Unit
from relayflow.core.spec import TaskSpec
from relayflow.core.status import AttemptStatus
from relayflow.core.units.base import Address, Host, PlainKind
from relayflow.harness import MemoryStack


def _kind(**fields: Any) -> str:
    return units.kind_for(TaskSpec(name="t", line=1, **fields)).name


def test_each_task_shape_gets_its_kind():
    assert _kind(action="core.echo") == "action"
    assert _kind(action="python:m:f") == "action"
    assert _kind(action="core.echo", callback=True) == "callback"
    assert _kind(action="core.sleep") == "sleep"
    assert _kind(action="core.ask") == "ask"
    assert _kind(type="workflow", workflow="child.wf") == "child"


def test_every_manifest_kind_is_registered_and_the_worker_runs_exactly_its_builtins():
    for entry in builtins.MANIFEST:
        assert entry.unit_kind in units.KINDS, entry.name
    core_actions = {n for n in default_registry().names() if n.startswith("core.")}
    assert core_actions == set(builtins.worker_builtins())
    assert not core_actions & {"core.sleep", "core.ask"}  # the engine handles these: never dispatched


def _problems(text: str) -> str:
    with pytest.raises(ValidationError) as info:
        load_text(text)
    return str(info.value)


def test_the_loader_checks_core_actions_against_the_manifest():
    message = _problems("name: w\ntasks:\n  - {name: a, action: core.slep, input: {seconds: 1}}\n")
    assert "unknown built-in action 'core.slep'" in message and "did you mean 'core.sleep'" in message
    assert ", ".join(sorted(builtins.BUILTINS)) in message
    assert "core.sleep needs input.seconds" in _problems("name: w\ntasks:\n  - {name: a, action: core.sleep, input: {}}\n")
    assert "core.http needs input.url" in _problems("name: w\ntasks:\n  - {name: a, action: core.http}\n")


def test_an_engine_builtin_cannot_wait_for_a_callback():
    message = _problems("name: w\ntasks:\n  - {name: a, action: core.sleep, callback: true, input: {seconds: 1}}\n")
    assert "task a: callback: core.sleep is run by the engine, not a worker" in message


class CountUnit(PlainKind):
    """An engine-handled built-in written as one kind: ends its attempt in the step that starts it."""

    name = "count"

    def begin(self, host: Host, run: TaskRun, unit: Unit, spec: TaskSpec, at: Address) -> None:
        host.attempt_ended(run, unit, AttemptStatus.SUCCEEDED, {"n": len(unit.input["items"])}, None)


def test_a_new_engine_handled_builtin_is_one_manifest_entry_and_one_kind(monkeypatch):
    monkeypatch.setitem(builtins.BUILTINS, "core.count", builtins.BuiltinAction(
        "core.count", "counts input.items", required=("items",), unit_kind="count", handled_by="engine"))
    monkeypatch.setitem(units.KINDS, "count", CountUnit())
    stack = MemoryStack(seed=1)
    dispatched: list[str] = []
    real = stack.execute
    stack.execute = lambda cmd: (dispatched.append(cmd.action), real(cmd))[1]  # type: ignore[method-assign]
    stack.register(load_text("""
name: w.count
tasks:
  - {name: count, action: core.count, input: {items: [1, 2, 3]}, next: [{do: show}]}
  - {name: show, action: core.echo, input: {n: "{{ task.count.result.n }}"}}
output: {n: "{{ task.show.result.n }}"}
"""))
    result = stack.run("w.count")
    assert result["status"] == "succeeded", result
    assert result["output"] == {"n": 3}
    assert dispatched == ["core.echo"]  # core.count never reached a worker
    assert "core.count needs input.items" in _problems("name: w\ntasks:\n  - {name: a, action: core.count, input: {}}\n")
