"""core/values.py: a workflow value is what JSON carries, the same on every backend."""
from __future__ import annotations

import datetime as dt

import pytest

from relayflow.core.values import MAX_DEPTH, NotJSON, to_json


def nested(depth: int):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("value,expected", [
    ({1: "a", 2.5: "b", None: "d"}, {"1": "a", "2.5": "b", "null": "d"}),
    ((1, (2, 3)), [1, [2, 3]]),
    (2 ** 1000, 2 ** 1000),
    ("ünï 🚀 \u0000", "ünï 🚀 \u0000"),
    (nested(MAX_DEPTH), nested(MAX_DEPTH)),
])
def test_values_read_back_as_json_does(value, expected):
    assert to_json(value) == expected


@pytest.mark.parametrize("value,message", [
    (2 ** 20000, "an integer of more than 4300 digits is not a JSON value"),
    (float("nan"), "NaN and infinity are not JSON numbers"),
    ([float("-inf")], "NaN and infinity are not JSON numbers"),
    ({1, 2}, "Object of type set is not JSON serializable"),
    (dt.date(2026, 1, 1), "Object of type date is not JSON serializable"),
    ({("a", "b"): 1}, "keys must be str, int, float, bool or None"),
    (nested(MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} levels deep"),
    (nested(5000), f"nested more than {MAX_DEPTH} levels deep"),
], ids=["huge-int", "nan", "infinity", "set", "date", "tuple-key", "depth-257", "depth-5000"])
def test_a_value_json_cannot_carry_is_refused_saying_why_and_where(value, message):
    with pytest.raises(NotJSON) as info:
        to_json(value, "task a: result")
    assert str(info.value).startswith("task a: result: ") and message in str(info.value)
