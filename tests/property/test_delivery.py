"""Duplicated and reordered delivery (as SQS may do) must not change a workflow's final state.

Random workflows (see ``strategies.py``) run once with in-order delivery and again
under ``Faults(reorder=True, duplicate=p, seed=s, batch=b, timer_race=TIMER_RACE)``:
reordered, duplicated, handed to the engine in batches, with timers firing while
messages wait. Both runs must end in the same canonical state: status, output (which
renders every published variable), error, and the multiset of task runs (task,
status, attempts, result, error). The order of runs and the run numbers of no-join
merges legitimately depend on delivery order and are not compared.

The property runs twice: on a fixed set of examples (the same every time), and on a
fresh random seed, printed in the test report; set ``RELAYFLOW_PROPERTY_SEED`` to
replay a seed.
"""
from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from relayflow.core.errors import ValidationError
from relayflow.core.loader import load_text
from relayflow.harness import Faults, MemoryStack

from .strategies import CHILD_WORKFLOW, HOLD, TIMER_RACE, Generated, workflows

MAX_DELIVERIES = 200_000
TERMINAL = {"succeeded", "failed", "timed_out", "skipped", "cancelled"}


def load(workflow: dict[str, Any]):
    return load_text(yaml.safe_dump(workflow, sort_keys=False), "prop.yaml")


CHILD_SPEC = load(CHILD_WORKFLOW)


def run(spec, faults: Faults | None = None) -> tuple[dict[str, Any], MemoryStack]:
    """Under faults the start is queued as a message (as deployed), so it can be duplicated too."""
    stack = MemoryStack(faults=faults, seed=0, defer_start=faults is not None)
    stack.register(CHILD_SPEC)
    stack.register(spec)
    result = stack.run(spec.name, None, max_deliveries=MAX_DELIVERIES)
    return result, stack


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _unnumbered(error: dict[str, Any]) -> dict[str, Any]:
    """A child workflow's error names its execution id, which holds the parent's run number."""
    error = dict(error)
    error["message"] = re.sub(r"\(ex-[^)]*\)", "(child)", error.get("message") or "")
    error.pop("execution_id", None)
    return error


def runs_multiset(result: dict[str, Any]) -> list[tuple]:
    return sorted((t["name"], t["status"], t["attempts"], _key(t["result"]), _key(t["error"]))
                  for t in result["tasks"])


def check_well_formed(result: dict[str, Any]) -> None:
    """Invariants of any finished execution, whatever the delivery order."""
    assert result["status"] in TERMINAL - {"skipped"}, result["status"]
    for t in result["tasks"]:
        assert t["status"] in TERMINAL, f"run {t['name']}#{t['run']} left {t['status']}"
    numbers: dict[str, list[int]] = {}
    for t in result["tasks"]:
        numbers.setdefault(t["name"], []).append(t["run"])
    for name, nums in numbers.items():
        assert sorted(nums) == list(range(1, len(nums) + 1)), f"{name} run numbers {nums}"


def assert_same_final_state(gen: Generated, clean: dict[str, Any], faulty: dict[str, Any]) -> None:
    check_well_formed(clean)
    check_well_formed(faulty)
    assert faulty["status"] == clean["status"], (faulty["status"], faulty["error"], clean["error"])
    assert faulty["output"] == clean["output"]
    if clean["status"] == "succeeded":
        assert faulty["error"] is None
        assert runs_multiset(faulty) == runs_multiset(clean)
        return
    if clean["status"] == "timed_out":
        # Only the ``hold`` task keeps such a workflow running when its timeout passes:
        # everything else ended long before, whatever the delivery order.
        # A failure does not end the workflow while ``hold`` runs, but it stops new runs:
        # which ones had started is timing, as below.
        assert gen.workflow["tasks"][0]["name"] == HOLD, "a workflow timed out that should not have"
        assert faulty["error"] == clean["error"]
        if not gen.fatal:
            assert runs_multiset(faulty) == runs_multiset(clean)
        return
    # An unhandled failure fails the workflow fast: which runs started before it is a
    # matter of timing, so only the error is compared. With several tasks that may fail
    # unhandled, which one comes first is timing too.
    assert clean["status"] == "failed"
    error = faulty["error"]
    if len(gen.fatal) == 1:
        assert _unnumbered(error) == _unnumbered(clean["error"])
    else:
        assert error["task"] in gen.fatal, error
        failed_runs = [t["error"] for t in faulty["tasks"]
                       if t["name"] == error["task"] and t["status"] in ("failed", "timed_out")]
        assert any(e["type"] == error["type"] and e["message"] == error["message"] for e in failed_runs), error


# The seed of the fresh run: drawn once per run by tests/conftest.py, printed in the run's
# summary and in the falsifying example's notes.
FRESH_SEED = int(os.environ.get("RELAYFLOW_PROPERTY_SEED") or random.SystemRandom().randrange(2**32))
_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
_FAULTS = dict(gen=workflows(), duplicate=st.sampled_from([0.0, 0.2, 0.5]), batch=st.sampled_from([1, 2, 4]),
               seed=st.integers(0, 2**16))


def check_delivery_order_free(gen: Generated, duplicate: float, batch: int, seed: int) -> None:
    try:
        spec = load(gen.workflow)
    except ValidationError:
        assume(False)
    clean, _ = run(spec)
    for s in (seed, seed + 1):
        faults = Faults(reorder=True, duplicate=duplicate, seed=s, batch=batch, timer_race=TIMER_RACE)
        faulty, stack = run(spec, faults)
        assert_same_final_state(gen, clean, faulty)
        if duplicate:
            assert stack.duplicates >= 1, "no duplicate was delivered"


@settings(max_examples=300, derandomize=True, **_SETTINGS)
@given(**_FAULTS)
def test_random_workflow_is_delivery_order_free(gen: Generated, duplicate: float, batch: int, seed: int) -> None:
    check_delivery_order_free(gen, duplicate, batch, seed)


@hypothesis_seed(FRESH_SEED)
@settings(max_examples=100, database=None, **_SETTINGS)
@given(**_FAULTS)
def test_random_workflow_is_delivery_order_free_on_a_fresh_seed(gen: Generated, duplicate: float, batch: int,
                                                                seed: int) -> None:
    note(f"replay with RELAYFLOW_PROPERTY_SEED={FRESH_SEED}")
    check_delivery_order_free(gen, duplicate, batch, seed)


def test_generated_workflows_are_valid_and_varied() -> None:
    """The generator is not vacuous: its workflows load, and cover the features under test."""
    seen: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    faults: Counter[str] = Counter()

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(gen=workflows())
    def collect(gen: Generated) -> None:
        spec = load(gen.workflow)  # every generated workflow must validate
        for t in gen.workflow["tasks"]:
            seen.update(k for k in ("join", "with_items", "concurrency", "retry", "when", "next", "decision",
                                    "on_failure", "on_complete", "workflow", "type") if k in t)
            if t.get("action") == "core.sleep":
                seen["sleep"] += 1
            if t["name"] == "lp":
                seen["loop"] += 1
            if "timeout" in t:
                seen["task_timeout"] += 1
        if "timeout" in gen.workflow:
            seen["workflow_timeout"] += 1
            if isinstance(t.get("join"), int):
                seen["join_n"] += 1
        result, _ = run(spec)
        statuses[result["status"]] += 1
        _, stack = run(spec, Faults(reorder=True, duplicate=0.2, batch=4, timer_race=TIMER_RACE))
        faults.update(duplicates=stack.duplicates, batches=stack.batches, timer_races=stack.timer_races)
        for t in result["tasks"]:
            seen[f"run_{t['status']}"] += 1
            if t["attempts"] > 1:
                seen["retried"] += 1
            if t["status"] == "timed_out":
                seen["run_timed_out"] += 1
            if (t["error"] or {}).get("type") == "JoinNotSatisfied":
                seen["join_unsatisfied"] += 1
            if (t["error"] or {}).get("type") in ("ItemsFailed", "ParallelFailed", "ChildWorkflowFailed"):
                seen[t["error"]["type"]] += 1
        names = [t["name"] for t in result["tasks"]]
        if any(names.count(n) > 1 for n in set(names)):
            seen["multi_run"] += 1

    collect()
    for feature in ("join", "join_n", "with_items", "concurrency", "retry", "when", "next", "decision",
                    "on_failure", "on_complete", "workflow", "type", "sleep", "loop", "run_skipped", "run_failed", "retried", "join_unsatisfied",
                    "ItemsFailed", "ParallelFailed", "ChildWorkflowFailed", "multi_run",
                    "task_timeout", "workflow_timeout", "run_timed_out"):
        assert seen[feature] > 0, f"the generator never produced {feature}: {dict(seen)}"
    assert statuses["succeeded"] > 0 and statuses["failed"] > 0 and statuses["timed_out"] > 0, dict(statuses)
    # the faults the property relies on really happen
    assert faults["duplicates"] > 0 and faults["batches"] > 0 and faults["timer_races"] > 0, dict(faults)


def fan_out(n: int) -> dict[str, Any]:
    branches = [f"b{i}" for i in range(n)]
    return {
        "name": "prop.fanout",
        "tasks": [{"name": "start", "action": "core.noop", "on_success": branches}]
        + [{"name": b, "action": "core.echo", "input": {"branch": b},
            "publish": [{b: "{{ result().branch }}"}], "on_success": "join"} for b in branches]
        + [{"name": "join", "join": "all", "action": "core.echo",
            "input": {"seen": "{{ " + " + ".join(f"[vars.{b}]" for b in branches) + " }}"},
            "publish": [{"joined": "{{ result().seen | length }}"}]}],
        "output": {"joined": "{{ vars.joined }}", "branches": {b: f"{{{{ vars.{b} }}}}" for b in branches}},
    }


def test_fifty_branch_join_fires_once_under_faults() -> None:
    spec = load(fan_out(50))
    for seed in range(5):
        result, stack = run(spec, Faults(reorder=True, duplicate=0.3, seed=seed))
        assert result["status"] == "succeeded", result["error"]
        joins = [t for t in result["tasks"] if t["name"] == "join"]
        assert len(joins) == 1, f"seed {seed}: the join ran {len(joins)} times"
        assert joins[0]["status"] == "succeeded"
        assert joins[0]["result"] == {"seen": [f"b{i}" for i in range(50)]}
        assert result["output"] == {"joined": 50, "branches": {f"b{i}": f"b{i}" for i in range(50)}}
        assert sorted(t["name"] for t in result["tasks"] if t["name"].startswith("b")) == \
            sorted(f"b{i}" for i in range(50))
        assert stack.duplicates > 0, f"seed {seed}: no message was delivered twice"
