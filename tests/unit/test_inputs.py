"""Checking a workflow's input against its declared inputs (LANGUAGE.md §1)."""
from __future__ import annotations

import pytest

from relayflow.core.errors import InputError
from relayflow.core.inputs import check_input
from relayflow.core.loader import load_text

SPEC = load_text("""
name: demo.inputs
input:
  service: {type: string, required: true}
  replicas: {type: integer, default: 2}
  ratio: {type: number}
  dry_run: {type: boolean, default: false}
  labels: {type: object, default: {team: core}}
  hosts: {type: array}
  env: {type: string, enum: [dev, prod], default: dev}
  anything: {}
tasks: [{name: a, action: core.noop}]
""")


def problems_of(given: object) -> list[str]:
    with pytest.raises(InputError) as info:
        check_input(SPEC, given)
    return info.value.problems


def test_defaults_fill_missing_inputs_and_undeclared_optional_ones_stay_absent() -> None:
    assert check_input(SPEC, {"service": "web"}) == {
        "service": "web", "replicas": 2, "dry_run": False, "labels": {"team": "core"}, "env": "dev"}


def test_given_values_win_over_defaults() -> None:
    got = check_input(SPEC, {"service": "web", "replicas": 5, "ratio": 1, "hosts": ["a"], "env": "prod",
                             "anything": [1, {"x": None}]})
    assert got["replicas"] == 5 and got["ratio"] == 1 and got["hosts"] == ["a"] and got["env"] == "prod"
    assert got["anything"] == [1, {"x": None}]


def test_a_default_is_copied_so_a_run_cannot_change_it() -> None:
    first = check_input(SPEC, {"service": "web"})
    first["labels"]["team"] = "changed"
    assert check_input(SPEC, {"service": "web"})["labels"] == {"team": "core"}


def test_missing_required_input() -> None:
    assert problems_of({}) == ["input 'service': required but missing"]


@pytest.mark.parametrize("name, value, expected", [
    ("service", 5, "expected string, got integer 5"),
    ("replicas", "3", 'expected integer, got string "3"'),
    ("replicas", 2.5, "expected integer, got number 2.5"),
    ("replicas", True, "expected integer, got boolean true"),
    ("ratio", "0.5", 'expected number, got string "0.5"'),
    ("dry_run", "false", 'expected boolean, got string "false"'),
    ("labels", [], "expected object, got array []"),
    ("hosts", {"a": 1}, 'expected array, got object {"a": 1}'),
    ("hosts", "x" * 100, 'expected array, got string "' + "x" * 56 + "..."),
])
def test_wrong_type_names_input_expected_and_given_types(name: str, value: object, expected: str) -> None:
    assert problems_of({"service": "web", name: value}) == [f"input '{name}': {expected}"]


def test_value_outside_enum() -> None:
    assert problems_of({"service": "web", "env": "staging"}) == ["""input 'env': "staging" is not one of ["dev", "prod"]"""]


def test_undeclared_input_is_an_error_listing_the_declared_ones() -> None:
    (problem,) = problems_of({"service": "web", "replica": 3})
    assert problem.startswith("input 'replica': not declared by workflow demo.inputs (declared: ")
    assert "replicas" in problem


def test_every_problem_is_reported_at_once() -> None:
    found = problems_of({"replicas": "x", "env": "qa", "extra": 1})
    assert len(found) == 4
    assert {p.split(":")[0] for p in found} == {"input 'extra'", "input 'service'", "input 'replicas'", "input 'env'"}


@pytest.mark.parametrize("given, kind", [([1], "list"), ("text", "str"), (3, "int")])
def test_input_must_be_an_object(given: object, kind: str) -> None:
    assert problems_of(given) == [f"input must be a JSON object, got {kind}"]


def test_null_input_counts_as_empty() -> None:
    spec = load_text("name: d\ninput: {a: {default: 1}}\ntasks: [{name: a, action: core.noop}]\n")
    assert check_input(spec, None) == {"a": 1}


def test_workflow_without_declared_inputs_takes_any_object_unchanged() -> None:
    spec = load_text("name: free\ntasks: [{name: a, action: core.noop}]\n")
    given = {"a": {"b": [1]}}
    got = check_input(spec, given)
    assert got == given and got is not given and got["a"] is not given["a"]


def test_null_value_for_a_typed_optional_input_is_accepted() -> None:
    assert check_input(SPEC, {"service": "web", "ratio": None})["ratio"] is None


def test_inputs_declared_as_a_list_take_defaults() -> None:
    spec = load_text("name: d\nparameters: [a, {b: 2}]\ntasks: [{name: a, action: core.noop}]\n")
    assert check_input(spec, {"a": "x"}) == {"a": "x", "b": 2}
    assert check_input(spec, {}) == {"b": 2}
