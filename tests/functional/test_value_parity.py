"""Values at the edges give the same result on the embedded stack (moto, the real
handlers, the AWS contract) and on the memory backend: JSON is what both carry."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from relayflow.actions.builtin import default_registry
from relayflow.clock import VirtualClock
from relayflow.core.errors import InputError
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
    from relayflow.local.stack import EmbeddedStack
    with EmbeddedStack(registry=registry()) as stack:
        for spec in specs():
            stack.register(spec)
        yield stack


def outcome(stack, workflow: str) -> dict[str, Any]:
    """The execution's description, or the refusal of its start (both backends refuse alike)."""
    try:
        return stack.run(workflow, max_deliveries=2000)
    except InputError as exc:
        return {"execution_id": "-", "status": "refused", "error": {"type": "InputError", "message": str(exc)}}


def _normal(result: dict[str, Any]) -> str:
    text = json.dumps({k: v for k, v in result.items() if k != "execution_id"}, sort_keys=True)
    return text.replace(result["execution_id"], "<execution>")


@pytest.mark.parametrize("case", list(CASES))
def test_both_backends_agree_on_values_at_the_edges(local, case):
    memory = MemoryStack(registry=registry())
    for spec in specs():
        memory.register(spec)
    expected = outcome(memory, CASES[case]["name"])
    local.clock.t = VirtualClock().t
    got = outcome(local, CASES[case]["name"])
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


def refused_at_start(where: str, text: str):
    def verify(result):  # variables render when the execution starts: its start is refused
        assert result["status"] == "refused" and where in result["error"]["message"]
        assert text in result["error"]["message"], result
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
    "vars_huge_int": refused_at_start("vars.n", "an integer of more than 4300 digits is not a JSON value"),
    "publish_huge_int": refused("TemplateError", "more than 4300 digits"),
    "input_huge_int": refused("TemplateError", "more than 4300 digits"),
    "output_nan": refused("TemplateError", "output: NaN and infinity"),
    "items_huge_int": refused("TemplateError", "more than 4300 digits"),
    "big_int_ok": ok(lambda out: out["n"] == 2 ** 1000 + 1),
}


def test_nesting_deeper_than_any_key_allows_runs_alike_on_both_backends(local):
    # 32 levels of a child task with a 60-character name: the child ids would outgrow
    # DynamoDB's 2,048-byte partition key (and SQS's 128-character group ids long before).
    name = "t" * 60
    levels = 32
    workflows = [{"name": f"deep.{i}", "tasks": [
        {"name": name, "workflow": f"deep.{i + 1}", "input": {}} if i < levels else
        {"name": "leaf", "action": "core.echo", "input": {"depth": i}}],
        "output": {"depth": f"{{{{ task['{name if i < levels else 'leaf'}'].result.depth }}}}"}}
        for i in range(levels + 1)]
    specs = [load_text(yaml.safe_dump(w, sort_keys=False), f"{w['name']}.yaml") for w in workflows]
    memory = MemoryStack()
    for spec in specs:
        memory.register(spec)
        local.register(spec)
    expected = memory.run("deep.0", max_deliveries=5000)
    local.clock.t = VirtualClock().t
    got = local.run("deep.0", max_deliveries=5000)
    assert got["status"] == expected["status"] == "succeeded", got["error"]
    assert got["output"] == expected["output"] == {"depth": levels}
    assert local.contract.take_breaches() == []


@pytest.mark.parametrize("request_mb,response_mb,error", [
    (7, 0, "RequestEntityTooLargeException"), (0, 7, "Function.ResponseSizeTooLarge"), (5, 5, None)])
def test_lambda_payload_limits_alike_on_both_backends(local, request_mb, response_mb, error):
    wf = load_text(yaml.safe_dump({"name": "edge.lambda", "tasks": [{
        "name": "call", "action": "aws.lambda",
        "input": {"function": "sized", "payload": {"blob": f"{{{{ 'x' * {request_mb * 1024 * 1024} }}}}"}}}]}),
        "lambda.yaml")

    def sized(payload: Any) -> Any:
        return {"blob": "y" * (response_mb * 1024 * 1024)}

    memory = MemoryStack()
    memory.functions.register("sized", sized)
    memory.register(wf)
    local.functions.register("sized", sized)
    local.register(wf)
    expected = memory.run("edge.lambda")
    local.clock.t = VirtualClock().t
    got = local.run("edge.lambda")
    assert _normal(got) == _normal(expected)
    if error is None:
        assert got["status"] == "succeeded"
    else:
        assert got["tasks"][0]["error"]["type"] == error
