"""The embedded stack (moto + the real Lambda handlers) against the memory backend:
every scenario gives the same JSON on both."""
import json

import pytest
import yaml

from relayflow.actions.allowlist import ActionModules
from relayflow.actions.builtin import default_registry
from relayflow.clock import VirtualClock
from relayflow.core.errors import InputError
from relayflow.core.loader import load_text
from tests.scenarios.runner import ScriptedAction, load_cases, run_case

CASES = [(n, c) for n, c in load_cases() if not c.get("xfail") and "invalid" not in c["expect"]]


@pytest.fixture(scope="module")
def stack():
    from relayflow.local.stack import EmbeddedStack
    with EmbeddedStack() as s:
        yield s


def _normalise(result: dict) -> str:
    text = json.dumps({k: v for k, v in result.items() if k != "execution_id"}, sort_keys=True)
    return text.replace(result["execution_id"], "<execution>")


def run_local(stack, case):
    stack.clock.t = VirtualClock().t  # each case starts at the memory backend's epoch
    # the same declared action module as the memory backend's scenario stack
    registry = default_registry(ActionModules(["tests.scenarios.actions_module"]))
    for name, script in (case.get("actions") or {}).items():
        registry.register(name, ScriptedAction(script))
    stack.runtime.actions = registry
    for child in case.get("children") or []:
        stack.register(load_text(yaml.safe_dump(child, sort_keys=False), "child.yaml"))
    stack.register(load_text(yaml.safe_dump(case["workflow"], sort_keys=False), "workflow.yaml"))
    return stack.run(case["workflow"]["name"], case.get("input"), max_deliveries=20_000)


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_embedded_stack_matches_memory_backend(stack, case):
    if "input_error" in case["expect"]:  # the start handler refuses it as the memory backend does
        with pytest.raises(InputError) as memory:
            run_case(case)
        with pytest.raises(InputError) as local:
            run_local(stack, case)
        assert local.value.problems == memory.value.problems
        return
    memory, _, _ = run_case(case)
    local = run_local(stack, case)
    assert _normalise(local) == _normalise(memory)
