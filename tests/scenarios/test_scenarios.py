"""Every scenario file replayed in order, and again under duplicated, reordered delivery."""
import pytest

from relayflow.harness import Faults
from tests.scenarios.runner import check, check_input_error, check_invalid, load_cases, run_case

CASES = load_cases()


def _param(name, case):
    marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if case.get("xfail") else []
    return pytest.param(case, id=name, marks=marks)


@pytest.mark.parametrize("case", [_param(n, c) for n, c in CASES])
def test_scenario(case):
    if "invalid" in case["expect"]:
        return check_invalid(case)
    if "input_error" in case["expect"]:
        return check_input_error(case)
    result, stack, elapsed = run_case(case)
    check(case, result, elapsed, stack)


# Known bugs (xfail) are left out here: the clean run itself is wrong.
ORDER_FREE = [(n, c) for n, c in CASES if c.get("order_free", True) and not c.get("xfail")
              and "invalid" not in c["expect"] and "input_error" not in c["expect"]]


@pytest.mark.parametrize("case", [c for _, c in ORDER_FREE], ids=[n for n, _ in ORDER_FREE])
def test_scenario_survives_duplicate_delivery(case):
    """Every message delivered twice now and then: the final state is the same as a clean run's."""
    clean, clean_stack, _ = run_case(case)
    # The start is queued as a message, as deployed, so even a workflow that ends in its
    # first step meets a duplicate; the harness always duplicates the first message.
    faulty, stack, _ = run_case(case, Faults(duplicate=0.3, seed=7), defer_start=True)
    assert clean_stack.duplicates == 0
    assert stack.duplicates >= 1, f"no duplicate was delivered in {stack.deliveries} deliveries"
    assert faulty["status"] == clean["status"]
    assert faulty["output"] == clean["output"]
    assert faulty["error"] == clean["error"]
    assert [(t["name"], t["run"], t["status"], t["attempts"], t["result"]) for t in faulty["tasks"]] == \
        [(t["name"], t["run"], t["status"], t["attempts"], t["result"]) for t in clean["tasks"]]
