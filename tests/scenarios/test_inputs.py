"""Workflow inputs (LANGUAGE.md §1, used by §8's `input` scope): defaults are applied, and a
bad input is a clear InputError raised before anything is started."""
from __future__ import annotations

import pytest

from relayflow.core.errors import InputError
from relayflow.core.loader import load_text
from relayflow.harness import MemoryStack

DEPLOY = """
name: i.deploy
input:
  service: {type: string, required: true}
  replicas: {type: integer, default: 2}
  ratio: {type: number, default: 0.5}
  dry_run: {type: boolean, default: false}
  tags: {type: array, default: [a]}
  extra: {type: object, default: {k: v}}
  env: {type: string, enum: [dev, prod], default: dev}
  note: {type: string}
tasks:
  - name: show
    action: core.echo
    input: {all: "{{ input }}"}
output: "{{ task.show.result.all }}"
"""


def stack_with(text: str = DEPLOY) -> MemoryStack:
    stack = MemoryStack(seed=0)
    stack.register(load_text(text, "workflow.yaml"))
    return stack


def nothing_started(stack: MemoryStack) -> bool:
    return not stack.store.executions and not stack.task_queue.messages and not stack.event_queue.messages \
        and stack.timers.next_due() is None and not stack.bus.events


def test_defaults_are_applied_and_seen_by_templates():
    result = stack_with().run("i.deploy", {"service": "api"})
    assert result["status"] == "succeeded"
    assert result["output"] == {"service": "api", "replicas": 2, "ratio": 0.5, "dry_run": False,
                                "tags": ["a"], "extra": {"k": "v"}, "env": "dev"}


def test_given_values_override_defaults_and_an_integer_is_a_number():
    result = stack_with().run("i.deploy", {"service": "api", "replicas": 5, "ratio": 2, "env": "prod",
                                           "note": "hi", "tags": [], "dry_run": True})
    assert result["status"] == "succeeded"
    assert result["output"]["replicas"] == 5
    assert result["output"]["ratio"] == 2
    assert result["output"]["env"] == "prod"
    assert result["output"]["tags"] == []
    assert result["output"]["dry_run"] is True
    assert result["output"]["note"] == "hi"


def test_a_default_is_a_fresh_copy_for_every_execution():
    stack = stack_with("""
name: i.fresh
input: {tags: {type: array, default: []}}
tasks:
  - {name: a, action: core.echo, input: {tags: "{{ input.tags + ['x'] }}"}}
output: "{{ task.a.result.tags }}"
""")
    assert stack.run("i.fresh")["output"] == ["x"]
    assert stack.run("i.fresh")["output"] == ["x"]


@pytest.mark.parametrize("given, words", [
    ({}, ["service", "required"]),
    ({"service": 3}, ["service", "string"]),
    ({"service": "api", "replicas": "two"}, ["replicas", "integer"]),
    ({"service": "api", "replicas": 2.5}, ["replicas", "integer"]),
    ({"service": "api", "replicas": True}, ["replicas", "integer"]),
    ({"service": "api", "ratio": "half"}, ["ratio", "number"]),
    ({"service": "api", "dry_run": "yes"}, ["dry_run", "boolean"]),
    ({"service": "api", "tags": "a,b"}, ["tags", "array"]),
    ({"service": "api", "extra": [1]}, ["extra", "object"]),
    ({"service": "api", "env": "staging"}, ["env", "staging"]),
], ids=["missing-required", "string", "integer-from-text", "integer-from-float", "integer-from-bool",
        "number", "boolean", "array", "object", "enum"])
def test_a_bad_input_is_an_input_error_and_nothing_is_started(given, words):
    stack = stack_with()
    with pytest.raises(InputError) as info:
        stack.start("i.deploy", given)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert nothing_started(stack)


def test_every_input_problem_is_reported_at_once():
    stack = stack_with()
    with pytest.raises(InputError) as info:
        stack.start("i.deploy", {"replicas": "x", "env": "qa"})
    assert len(info.value.problems) == 3
    text = str(info.value)
    assert "service" in text and "replicas" in text and "env" in text
    assert nothing_started(stack)


def test_an_input_that_is_not_an_object_is_an_input_error():
    stack = stack_with()
    with pytest.raises(InputError):
        stack.start("i.deploy", ["service", "api"])
    assert nothing_started(stack)


def test_a_required_input_given_as_null_is_an_input_error():
    stack = stack_with()
    with pytest.raises(InputError):
        stack.start("i.deploy", {"service": None})
    assert nothing_started(stack)
