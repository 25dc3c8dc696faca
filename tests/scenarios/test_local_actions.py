"""Local actions (``local: true``) on the memory backend: they run inside the step that
dispatches them (no task-queue message), consecutive ones in one step, with retries,
timeouts, with_items and transitions as for any task."""
from __future__ import annotations

import time
from typing import Any

import pytest

from relayflow import delivery, local_actions
from relayflow.actions.errors import ActionFailed
from relayflow.core.errors import ValidationError
from relayflow.core.loader import load_text
from relayflow.harness import MemoryStack

COUNT = "python:tests.local.actions:count"
FLAKY = "python:tests.local.actions:flaky"
SLOW = "python:tests.local.actions:slow"


def sequence(n: int, local: bool = True) -> str:
    lines = ["name: l.seq", "tasks:"]
    for i in range(n):
        prev = f"\"{{{{ task.t{i - 1}.result.i }}}}\"" if i else "-1"
        lines += [f"  - name: t{i}", f"    action: \"{COUNT}\"", f"    local: {str(local).lower()}",
                  f"    input: {{i: {i}, prev: {prev}}}"]
        if i + 1 < n:
            lines.append(f"    on_success: t{i + 1}")
    lines.append(f"output: {{last: \"{{{{ task.t{n - 1}.result.i }}}}\", prev: \"{{{{ task.t{n - 1}.result.prev }}}}\"}}")
    return "\n".join(lines) + "\n"


@pytest.fixture()
def stack():
    s = MemoryStack(seed=0)
    s.calls: list[Any] = []  # type: ignore[misc]

    def count(payload: Any, ctx: Any) -> Any:
        s.calls.append((ctx.task, ctx.attempt))
        return payload

    def flaky(payload: Any, ctx: Any) -> Any:
        s.calls.append((ctx.task, ctx.attempt))
        if ctx.attempt < payload["succeed_on"]:
            raise ActionFailed(f"attempt {ctx.attempt} fails", type="Flaky")
        return {"attempt": ctx.attempt}

    def slow(payload: Any, ctx: Any) -> Any:
        s.calls.append((ctx.task, ctx.attempt))
        time.sleep(payload["seconds"])
        return "done"

    for name, fn in ((COUNT, count), (FLAKY, flaky), (SLOW, slow)):
        s.registry.register(name, fn)
    return s


def run(stack: MemoryStack, text: str, input: Any = None) -> dict[str, Any]:
    spec = load_text(text, "local.yaml")
    stack.register(spec)
    return stack.run(spec.name, input)


def test_a_sequence_of_local_actions_runs_in_one_step_without_the_task_queue(stack) -> None:
    result = run(stack, sequence(30))
    assert result["status"] == "succeeded"
    assert result["output"] == {"last": 29, "prev": 28}  # each task saw its predecessor's result
    assert [r["status"] for r in result["tasks"]] == ["succeeded"] * 30
    assert stack.task_queue.sent == 0  # no dispatch message: nothing for a worker
    assert stack.calls == [(f"t{i}", 1) for i in range(30)]  # each ran once, in order
    assert stack.store.commits == 1  # the start step ran all of them and committed once


def test_the_same_sequence_without_local_dispatches_each_task(stack) -> None:
    result = run(stack, sequence(5, local=False))
    assert result["status"] == "succeeded" and result["output"] == {"last": 4, "prev": 3}
    assert stack.task_queue.sent == 5 and stack.store.commits == 6


def test_a_step_runs_at_most_its_share_of_local_actions(stack, monkeypatch) -> None:
    monkeypatch.setattr(local_actions, "MAX_PER_STEP", 7)
    monkeypatch.setattr(local_actions.run, "__defaults__", (7,))
    result = run(stack, sequence(30))
    assert result["status"] == "succeeded" and result["output"]["last"] == 29
    # t7, t15 and t23 leave as dispatches and a worker runs them; the step each one's outcome
    # starts goes on locally: the start step, then three
    assert stack.task_queue.sent == 3 and stack.store.commits == 4
    assert len(stack.calls) == 30


def test_without_time_left_a_local_action_is_dispatched_to_a_worker(stack, monkeypatch) -> None:
    monkeypatch.setattr(delivery, "_has_time", lambda budget: lambda seconds: False)
    stack.engine.has_time = lambda seconds: False  # the start step, run by the caller here
    result = run(stack, sequence(3))
    assert result["status"] == "succeeded" and result["output"] == {"last": 2, "prev": 1}
    assert stack.task_queue.sent == 3  # every attempt went to a worker
    assert stack.calls == [("t0", 1), ("t1", 1), ("t2", 1)]


def test_local_retries_run_in_the_step_and_a_delay_waits_for_its_timer(stack) -> None:
    result = run(stack, f"""
name: l.retry
tasks:
  - name: now
    action: "{FLAKY}"
    local: true
    input: {{succeed_on: 3}}
    retry: {{count: 3, delay: 0}}
    on_success: later
  - name: later
    action: "{FLAKY}"
    local: true
    input: {{succeed_on: 2}}
    retry: {{count: 2, delay: 30}}
output: {{now: "{{{{ task.now.result.attempt }}}}", later: "{{{{ task.later.result.attempt }}}}"}}
""")
    assert result["status"] == "succeeded" and result["output"] == {"now": 3, "later": 2}
    assert stack.calls == [("now", 1), ("now", 2), ("now", 3), ("later", 1), ("later", 2)]
    assert stack.task_queue.sent == 0
    assert stack.store.commits == 2  # the start step, then the retry timer's step


def test_a_local_action_that_overruns_its_timeout_times_out(stack) -> None:
    result = run(stack, f"""
name: l.timeout
tasks:
  - name: slow
    action: "{SLOW}"
    local: true
    input: {{seconds: 0.2}}
    timeout: 0.05
    on_timeout: after
  - name: after
    action: core.echo
    local: true
    input: {{status: "{{{{ task.slow.status }}}}"}}
output: {{saw: "{{{{ task.after.result.status }}}}"}}
""")
    assert result["status"] == "succeeded"
    assert result["output"] == {"saw": "timed_out"}
    slow = next(t for t in result["tasks"] if t["name"] == "slow")
    assert slow["status"] == "timed_out" and "timed out" in slow["error"]["message"]


def test_local_with_items_runs_every_item_in_the_step(stack) -> None:
    result = run(stack, f"""
name: l.items
tasks:
  - name: each
    action: "{COUNT}"
    local: true
    with_items: "{{{{ range(25) | list }}}}"
    concurrency: 3
    input: {{i: "{{{{ item }}}}"}}
output: {{got: "{{{{ task.each.result | map(attribute='i') | list }}}}"}}
""")
    assert result["status"] == "succeeded" and result["output"] == {"got": list(range(25))}
    assert stack.task_queue.sent == 0 and stack.store.commits == 1 and len(stack.calls) == 25


def test_local_and_dispatched_tasks_mix_and_failures_take_their_transitions(stack) -> None:
    result = run(stack, """
name: l.mix
tasks:
  - {name: a, action: core.echo, local: true, input: {n: 1}, on_success: b}
  - {name: b, action: core.echo, input: {n: 2}, on_success: c}
  - {name: c, action: core.fail, local: true, input: {message: nope}, on_failure: d}
  - {name: d, action: core.echo, local: true, input: {err: "{{ task.c.error.message }}"}}
output: {err: "{{ task.d.result.err }}"}
""")
    assert result["status"] == "succeeded" and result["output"] == {"err": "nope"}
    assert stack.task_queue.sent == 1  # b only


@pytest.mark.parametrize("task,why", [
    ("{name: s, action: core.sleep, local: true, input: {seconds: 1}}", "waits"),
    ("{name: s, action: core.ask, local: true, input: {prompt: ok?}}", "waits"),
    ("{name: s, action: core.http, local: true, input: {url: 'https://example.com'}}", "calls out"),
    ("{name: s, action: core.echo, callback: true, local: true}", "callback"),
    ("{name: s, workflow: other, local: true}", "workflow task"),
    ("{name: s, action: core.echo, local: yes please}", "true or false"),
])
def test_local_on_an_action_that_waits_is_refused_naming_the_task(task: str, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        load_text(f"name: l.bad\ntasks:\n  - {task}\n", "bad.yaml")
    message = str(info.value)
    assert "local" in message and "s" in message and why in message, message
