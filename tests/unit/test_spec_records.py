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
