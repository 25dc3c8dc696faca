"""Every scenario file replayed in order, and again under duplicated, reordered delivery."""
import pytest

from relayflow.harness import Faults
from tests.scenarios.runner import check, load_cases, run_case

CASES = load_cases()


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_scenario(case):
    result, _, elapsed = run_case(case)
    check(case, result, elapsed)


ORDER_FREE = [(n, c) for n, c in CASES if c.get("order_free", True)]


@pytest.mark.parametrize("case", [c for _, c in ORDER_FREE], ids=[n for n, _ in ORDER_FREE])
def test_scenario_survives_duplicate_delivery(case):
    """Every message delivered twice now and then: the final state is the same as a clean run's."""
    clean, _, _ = run_case(case)
    faulty, stack, _ = run_case(case, Faults(duplicate=0.3, seed=7))
    assert stack.deliveries > 0
    assert faulty["status"] == clean["status"]
    assert faulty["output"] == clean["output"]
    assert [(t["name"], t["run"], t["status"], t["attempts"], t["result"]) for t in faulty["tasks"]] == \
        [(t["name"], t["run"], t["status"], t["attempts"], t["result"]) for t in clean["tasks"]]
