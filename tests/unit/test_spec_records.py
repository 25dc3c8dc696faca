"""The loader's task and transition records: built the quick way, frozen all the same."""
from __future__ import annotations

import dataclasses

import pytest

from relayflow.core.loader import load_text
from relayflow.core.spec import TaskSpec, Transition, quick_constructor

WORKFLOW = """
name: records
tasks:
  - name: fetch
    action: core.echo
    input: {n: 1}
    retry: 2
    publish: [{got: "{{ result() }}"}]
    next:
      - when: "{{ succeeded() }}"
        do: [report, noop]
      - do: cleanup
  - name: report
    action: core.noop
    on_success: cleanup
  - name: cleanup
    action: core.noop
"""


def test_loaded_records_are_the_frozen_classes_and_refuse_assignment() -> None:
    spec = load_text(WORKFLOW)
    fetch = spec.tasks["fetch"]
    assert type(fetch) is TaskSpec
    assert [type(t) for t in fetch.next] == [Transition, Transition]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fetch.action = "core.http"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fetch.next[0].do = ("cleanup",)  # type: ignore[misc]
    assert fetch.action == "core.echo" and fetch.next[0].do == ("report",)


def test_quick_records_equal_the_ones_the_frozen_constructor_builds() -> None:
    spec = load_text(WORKFLOW)
    for task in spec.tasks.values():
        rebuilt = TaskSpec(**{f.name: getattr(task, f.name) for f in dataclasses.fields(TaskSpec)})
        assert rebuilt == task and repr(rebuilt) == repr(task)
    fetch = spec.tasks["fetch"]
    assert fetch.next[0].commands == frozenset({"noop"}) and fetch.retry is not None and fetch.retry.count == 2
    assert fetch.targets() == ("report", "cleanup")


def test_quick_constructor_keeps_defaults_and_factories() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Record:
        name: str
        tags: list[str] = dataclasses.field(default_factory=list)
        size: int = 3

    make = quick_constructor(Record)
    a, b = make(name="a"), make("b", size=5)
    assert (type(a), a.tags, a.size) == (Record, [], 3)
    assert b == Record("b", [], 5)
    assert a.tags is not make(name="c").tags  # a fresh list each time, as the factory gives
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.size = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        make()  # the required field is still required


EVERY_FIELD = """
name: every.field
tasks:
  - name: start
    action: core.echo
    description: the first
    input: {a: 1}
    when: "{{ true }}"
    with_items: "{{ [1, 2] }}"
    batch_size: 2
    concurrency: 3
    retry: {count: 4, delay: 5}
    timeout: 60
    publish: [{p: "{{ result() }}"}]
    on_success: [gather, child, fan]
  - name: gather
    action: core.noop
    join: 1
    local: true
  - name: child
    workflow: other.child
  - name: fan
    type: parallel
    tasks:
      - {name: one, action: "python:m:f", callback: {schema: {type: object}}}
"""


def test_every_task_field_lands_where_it_belongs() -> None:
    """The loader passes a task's fields in order, not by keyword: each one must arrive as itself."""
    tasks = load_text(EVERY_FIELD).tasks
    start, gather, child, fan = tasks["start"], tasks["gather"], tasks["child"], tasks["fan"]
    assert (start.name, start.line, start.type, start.action, start.workflow) == ("start", 4, "action", "core.echo", None)
    assert (start.input, start.when, start.with_items) == ({"a": 1}, "{{ true }}", "{{ [1, 2] }}")
    assert (start.batch_size, start.concurrency, start.timeout, start.join) == (2, 3, 60, None)
    assert start.retry is not None and (start.retry.count, start.retry.delay) == (4, 5)
    assert start.publish == (("p", "{{ result() }}"),)
    assert [(tr.origin, tr.line, tr.when, tr.outcomes, tr.publish, tr.do, tr.decision, tr.commands)
            for tr in start.next] == [("on_success", 15, None, frozenset({"succeeded"}), (),
                                       ("gather", "child", "fan"), None, frozenset())]
    assert (start.subtasks, start.callback, start.callback_schema, start.description, start.local) == (
        (), False, None, "the first", False)
    assert (gather.join, gather.local, gather.line) == (1, True, 16)
    assert (child.type, child.workflow, child.action) == ("workflow", "other.child", None)
    one, = fan.subtasks
    assert (fan.type, one.name, one.action, one.callback, one.callback_schema) == (
        "parallel", "one", "python:m:f", True, {"type": "object"})
