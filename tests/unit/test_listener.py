"""The conductor tells its listener each transition of a workflow, in the order it happens."""
from __future__ import annotations

from typing import Any

from relayflow.core.listener import Listener
from relayflow.core.loader import load_text
from relayflow.core.records import TaskRun, Unit
from relayflow.harness import MemoryStack

WORKFLOW = """
name: l.small
tasks:
  - name: build
    action: core.echo
    input: {n: 2}
    next:
      - when: "{{ result().n > 5 }}"
        do: big
      - when: "{{ result().n <= 5 }}"
        do: [each]
  - name: each
    action: core.echo
    with_items: [a, b]
    input: {x: "{{ item }}"}
    next: [{do: check}]
  - name: check
    action: core.fail
    when: "{{ true }}"
    input: {message: nope}
    next:
      - when: "{{ failed() }}"
        do: noop
  - {name: big, action: core.noop}
"""


class Recorder(Listener):
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def run_started(self, run: TaskRun) -> None:
        self.seen.append(("started", run.task))

    def run_finished(self, run: TaskRun) -> None:
        self.seen.append(("finished", run.task, run.status))

    def guard_evaluated(self, run: TaskRun, where: str, expr: Any, value: bool) -> None:
        self.seen.append(("guard", run.task, where, value))

    def transition_taken(self, run: TaskRun, entry: str, kind: str, targets: tuple[str, ...]) -> None:
        self.seen.append(("taken", run.task, entry, kind, targets))

    def item_started(self, run: TaskRun, unit: Unit) -> None:
        self.seen.append(("item", run.task, unit.index))

    def item_finished(self, run: TaskRun, unit: Unit) -> None:
        self.seen.append(("item done", run.task, unit.index, unit.status))


def test_a_listener_sees_the_transitions_of_a_small_workflow_in_order():
    stack = MemoryStack(seed=1)
    recorder = Recorder()
    stack.engine.listener = recorder
    stack.register(load_text(WORKFLOW))
    result = stack.run("l.small")
    assert result["status"] == "succeeded", result
    assert recorder.seen == [
        ("started", "build"),
        ("finished", "build", "succeeded"),
        ("guard", "build", "next[0].when", False),
        ("guard", "build", "next[1].when", True),
        ("taken", "build", "next[1]", "do", ("each",)),
        ("started", "each"),
        ("item", "each", 0),
        ("item", "each", 1),
        ("item done", "each", 0, "succeeded"),
        ("item done", "each", 1, "succeeded"),
        ("finished", "each", "succeeded"),
        ("taken", "each", "next[0]", "do", ("check",)),
        ("started", "check"),
        ("guard", "check", "when", True),
        ("finished", "check", "failed"),
        ("guard", "check", "next[0].when", True),
        ("taken", "check", "next[0]", "noop", ()),
    ]


def test_a_decision_branch_and_a_fail_entry_are_named_by_their_origin():
    stack = MemoryStack(seed=1)
    recorder = Recorder()
    stack.engine.listener = recorder
    stack.register(load_text("""
name: l.decide
tasks:
  - name: pick
    action: core.echo
    input: {v: 2}
    decision:
      - {when: "{{ result().v == 1 }}", next: one}
      - {when: "{{ result().v == 2 }}", next: two}
  - {name: one, action: core.noop}
  - name: two
    action: core.fail
    next: [{when: "{{ failed() }}", do: fail}]
"""))
    result = stack.run("l.decide")
    assert result["status"] == "failed", result
    taken = [e for e in recorder.seen if e[0] in ("taken", "guard")]
    assert taken == [
        ("guard", "pick", "decision[0].when", False),
        ("guard", "pick", "decision[1].when", True),
        ("taken", "pick", "decision[1]", "do", ("two",)),
        ("guard", "two", "next[0].when", True),
        ("taken", "two", "next[0]", "fail", ()),
    ]


def test_the_default_listener_does_nothing_and_changes_nothing():
    stack = MemoryStack(seed=1)
    stack.register(load_text(WORKFLOW))
    assert stack.run("l.small")["status"] == "succeeded"
