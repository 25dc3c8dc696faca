"""Local actions on the embedded stack (moto, the real handlers): no worker invocation, one
advance step for a run of local tasks, and after a kill before the step's commit the
actions run again only within the window the README states (from the start of the step
that runs them to its commit), and the execution still ends as a clean run does."""
from __future__ import annotations

from typing import Any

import pytest

from relayflow.core.loader import load_text

from . import faults
from .faults import CallInjector

ACTION = "python:tests.functional.local:count"
N = 12


def sequence(name: str) -> str:
    lines = [f"name: {name}", "tasks:"]
    for i in range(N):
        prev = f"\"{{{{ task.t{i - 1}.result.i }}}}\"" if i else "-1"
        lines += [f"  - name: t{i}", f"    action: \"{ACTION}\"", "    local: true",
                  f"    input: {{i: {i}, prev: {prev}}}"]
        if i + 1 < N:
            lines.append(f"    on_success: t{i + 1}")
    lines.append(f"output: {{last: \"{{{{ task.t{N - 1}.result.i }}}}\", prev: \"{{{{ task.t{N - 1}.result.prev }}}}\"}}")
    return "\n".join(lines) + "\n"


def head_write(operation: str, params: dict[str, Any]) -> bool:
    return operation == "PutItem" and params.get("Item", {}).get("sk", {}).get("S") == "HEAD"


@pytest.fixture()
def stack(local):
    runs: list[tuple[str, int]] = []

    def count(payload: Any, ctx: Any) -> Any:
        runs.append((ctx.task, ctx.attempt))
        return payload

    local.runtime.actions.register(ACTION, count)
    local.register(load_text(sequence("t.local_seq"), "local_seq.yaml"))
    faults.fresh_case(local)
    local.runs = runs
    return local


def test_a_local_sequence_runs_in_the_advance_step_with_no_worker(stack) -> None:
    injector = CallInjector()
    faults.wrap_handlers(stack, injector)
    with injector:
        result = stack.run("t.local_seq", None)
    assert result["status"] == "succeeded" and result["output"] == {"last": N - 1, "prev": N - 2}
    assert stack.runs == [(f"t{i}", 1) for i in range(N)]
    assert "worker" not in injector.counts  # no dispatch reached the task queue's handler
    assert "SendMessageBatch" not in injector.ops["advance"]  # nor was any sent
    cost = stack.service.describe(result["execution_id"], cost=True)["cost"]
    # the start step's advance invocation and the start's one; the execution began and ended in
    # that step, whose records carry their expiry: no sweep (and no invocation for it) follows
    assert cost["requests"]["lambda"]["invocations"] == pytest.approx(2, abs=0.01)


def test_killed_before_its_commit_the_step_runs_its_local_actions_again_once(stack) -> None:
    injector = CallInjector()
    faults.wrap_handlers(stack, injector)
    with injector:
        # the advance step dies at its head write, the commit point: its local actions ran,
        # none of their records counts; SQS hands the start message back
        injector.arm("advance", head_write, die=True)
        result = stack.run("t.local_seq", None)
        assert injector.fired is not None and injector.fired[2] == "PutItem"
    assert result["status"] == "succeeded" and result["output"] == {"last": N - 1, "prev": N - 2}
    # every action ran twice: in the step that died and in its redo, never a third time
    assert sorted(stack.runs) == sorted([(f"t{i}", 1) for i in range(N)] * 2)
    assert [(t["name"], t["run"], t["attempts"]) for t in result["tasks"]] == [(f"t{i}", 1, 1) for i in range(N)]
    faults.drain_dlqs(stack)
