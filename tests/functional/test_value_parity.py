"""Values at the edges give the same result on the embedded stack (moto, the real
handlers, the AWS contract) and on the memory backend: JSON is what both carry."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from relayflow.actions.builtin import default_registry
from relayflow.adapters.memory import VirtualClock
from relayflow.core.loader import load_text
from relayflow.harness import MemoryStack


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = [value]
    return [value]


RESULTS = {
    "int_keys": lambda: {1: "a", 2: ["b"]},
    "tuple": lambda: (1, (2, 3)),
    "a_set": lambda: {1, 2},
    "a_datetime": lambda: dt.datetime(2026, 1, 1),
    "nan": lambda: float("nan"),
    "infinity": lambda: {"x": float("inf")},
    "huge_int": lambda: 2 ** 20000,
    "big_int": lambda: 2 ** 1000,
    "deep_ok": lambda: nested(200),
    "too_deep": lambda: nested(300),
    "five_mb": lambda: {"blob": "x" * (5 * 1024 * 1024), "n": 1},
    "unicode": lambda: {"s": "ünï 🚀 \u0000 tab\t"},
    "floats": lambda: [0.1 + 0.2, 1e308, -0.0, 5e-324],
}


def registry():
    reg = default_registry()
    for name, make in RESULTS.items():
        reg.register(f"edge.{name}", lambda payload, ctx, make=make: make())
    return reg


def workflow(name: str, action: str) -> dict[str, Any]:
    return {"name": f"edge.{name}", "tasks": [
        {"name": "make", "action": action, "publish": {"got": "{{ result() }}"}, "on_success": "use"},
        {"name": "use", "action": "core.echo", "input": {"again": "{{ vars.got }}"}}],
        "output": {"got": "{{ vars.got }}", "echoed": "{{ task.use.result.again }}"}}


TEMPLATED = {
    "vars_huge_int": {"name": "edge.vars_huge_int", "vars": {"n": "{{ 2 ** 20000 }}"},
                      "tasks": [{"name": "a", "action": "core.noop"}]},
    "publish_huge_int": {"name": "edge.publish_huge_int", "tasks": [
        {"name": "a", "action": "core.noop", "publish": {"n": "{{ 2 ** 20000 }}"}}]},
    "input_huge_int": {"name": "edge.input_huge_int", "tasks": [
        {"name": "a", "action": "core.echo", "input": {"n": "{{ 2 ** 20000 }}"}}]},
    "output_nan": {"name": "edge.output_nan", "tasks": [{"name": "a", "action": "core.noop"}],
                   "output": {"x": "{{ 1e308 * 10 }}"}},
    "items_huge_int": {"name": "edge.items_huge_int", "tasks": [
        {"name": "a", "action": "core.echo", "with_items": "{{ [1, 2 ** 20000] }}", "input": {"i": "{{ item }}"}}]},
    "big_int_ok": {"name": "edge.big_int_ok", "vars": {"n": "{{ 2 ** 1000 }}"},
                   "tasks": [{"name": "a", "action": "core.echo", "input": {"n": "{{ vars.n + 1 }}"}}],
                   "output": {"n": "{{ task.a.result.n }}"}},
}

CASES = {**{f"result_{n}": workflow(n, f"edge.{n}") for n in RESULTS}, **TEMPLATED}


def specs():
    return [load_text(yaml.safe_dump(wf, sort_keys=False), f"{name}.yaml") for name, wf in CASES.items()]


@pytest.fixture(scope="module")
def local():
    from relayflow.local.stack import LocalStack
    with LocalStack(registry=registry()) as stack:
        for spec in specs():
            stack.register(spec)
        yield stack


def _normal(result: dict[str, Any]) -> str:
    text = json.dumps({k: v for k, v in result.items() if k != "execution_id"}, sort_keys=True)
    return text.replace(result["execution_id"], "<execution>")


@pytest.mark.parametrize("case", list(CASES))
def test_both_backends_agree_on_values_at_the_edges(local, case):
    memory = MemoryStack(registry=registry())
    for spec in specs():
        memory.register(spec)
    expected = memory.run(CASES[case]["name"], max_deliveries=2000)
    local.clock.t = VirtualClock().t
    got = local.run(CASES[case]["name"], max_deliveries=2000)
    assert _normal(got) == _normal(expected)
    EXPECT[case](got)
    EXPECT[case](expected)


def ok(check=None):
    def verify(result):
        assert result["status"] == "succeeded", result["error"]
        if check:
            check(result["output"])
    return verify


def refused(type_: str, text: str):
    def verify(result):
        assert result["status"] == "failed"
        error = result["error"] if result["error"]["type"] == type_ else result["tasks"][0]["error"]
        assert error["type"] == type_ and text in error["message"], result
    return verify


EXPECT = {
    "result_int_keys": ok(lambda out: out["got"] == {"1": "a", "2": ["b"]} == out["echoed"]),
    "result_tuple": ok(lambda out: out["got"] == [1, [2, 3]]),
    "result_a_set": refused("InvalidResult", "set is not JSON serializable"),
    "result_a_datetime": refused("InvalidResult", "datetime is not JSON serializable"),
    "result_nan": refused("InvalidResult", "NaN and infinity are not JSON numbers"),
    "result_infinity": refused("InvalidResult", "NaN and infinity"),
    "result_huge_int": refused("InvalidResult", "more than 4300 digits"),
    "result_big_int": ok(lambda out: out["got"] == 2 ** 1000),
    "result_deep_ok": ok(lambda out: out["got"] == nested(200)),
    "result_too_deep": refused("InvalidResult", "nested more than 256 levels"),
    "result_five_mb": ok(lambda out: len(out["got"]["blob"]) == 5 * 1024 * 1024 and out["echoed"] == out["got"]),
    "result_unicode": ok(lambda out: out["got"] == {"s": "ünï 🚀 \u0000 tab\t"}),
    "result_floats": ok(lambda out: out["got"] == [0.1 + 0.2, 1e308, -0.0, 5e-324]),
    "vars_huge_int": refused("TemplateError", "vars: an integer of more than 4300 digits"),
    "publish_huge_int": refused("TemplateError", "more than 4300 digits"),
    "input_huge_int": refused("TemplateError", "more than 4300 digits"),
    "output_nan": refused("TemplateError", "output: NaN and infinity"),
    "items_huge_int": refused("TemplateError", "more than 4300 digits"),
    "big_int_ok": ok(lambda out: out["n"] == 2 ** 1000 + 1),
}
