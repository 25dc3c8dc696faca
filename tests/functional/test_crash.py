"""DESIGN §3, "exactly-once state, at-least-once actions", under crashes.

For each workflow in ``faults.WORKFLOWS`` and each handler (start, worker, advance),
the handler's k-th AWS call fails, once, for every k from 1 to the number of AWS
calls that handler makes in a clean run of the workflow. The failed message is
redelivered (the pump makes a failed record visible again, as SQS does after the
visibility timeout; for the start handler, the API client calls start again with
the same execution id). The final execution must equal a clean run's, field by
field and run by run; no run is recorded twice; and every attempt reaches the
worker through exactly one SQS message (a re-sent dispatch is deduplicated), run
again only when that very message is redelivered after a crash in the worker (or, when
the send of a batch's held outcomes fails, when that batch is redelivered).

Two kinds of failure: ``error``, the AWS call raises a ClientError (a 500 after
botocore's retries) and the handler's own error handling runs; ``die``, the
process dies at that call (Lambda timeout, out of memory), so no ``except`` in the
handler runs and the whole batch comes back. ``die`` is swept for the join, whose
advance handler applies several completions in one batch, at every call that writes
or sends (its reads all come before an invocation's first write, so dying at a read
is dying before the invocation changed anything).

The ranges of k are measured at collection time on a throwaway stack and checked
against the module's stack, so every call of a clean run is covered.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from . import faults
from .faults import HANDLERS, CallInjector, WorkerLog

MAX_DELIVERIES = 500
START_RETRIES = 5
DIE_SWEEPS = {("join", "advance")}

WRITES = {"PutItem", "BatchWriteItem", "DeleteItem", "UpdateItem", "TransactWriteItems"}
SENDS = {"SendMessage", "SendMessageBatch", "CreateSchedule", "DeleteSchedule", "PutEvents", "PutObject"}


@dataclass
class Clean:
    describe: str
    children: list[str]
    counts: dict[str, int]
    ops: dict[str, list[str]]
    attempts: dict[str, int] = field(default_factory=dict)  # normalised attempt key -> worker runs


def run_once(stack: Any, injector: CallInjector, log: WorkerLog, key: str, eid: str) -> None:
    """Start ``key`` as ``eid`` (retrying start as an API client would) and pump to the end."""
    faults.fresh_case(stack)
    log.clear()
    for _ in range(START_RETRIES):
        try:
            stack.start(faults.workflow_name(key), None, execution_id=eid)
            break
        except Exception:  # the crash, as the start handler let it out (wrapped or not)
            assert injector.fired is not None, "start failed without an injected crash"
            continue
    else:
        raise AssertionError("start never succeeded")
    stack.deliveries = 0
    stack.pump(max_deliveries=MAX_DELIVERIES)


def snapshot(stack: Any, log: WorkerLog, key: str, eid: str) -> tuple[str, list[str], dict[str, list[str]]]:
    result = stack.describe(eid)
    faults.assert_runs_numbered(result)
    children = []
    for suffix in faults.CHILDREN.get(key, []):
        child = stack.describe(eid + suffix)
        faults.assert_runs_numbered(child)
        children.append(faults.normalise(child, eid))
    runs = {k.replace(eid, "<execution>"): v for k, v in log.keys(eid).items()}
    return faults.normalise(result, eid), children, runs


def measure(stack: Any, injector: CallInjector, log: WorkerLog) -> dict[str, Clean]:
    """A clean run of every workflow (after a warm-up run, so caches are as in the cases)."""
    out = {}
    for key in faults.WORKFLOWS:
        run_once(stack, injector, log, key, f"warm-{key}")
        injector.reset()
        eid = f"clean-{key}"
        run_once(stack, injector, log, key, eid)
        counts = {h: injector.counts[h] for h in HANDLERS}
        ops = {h: list(injector.ops[h]) for h in HANDLERS}
        describe, children, runs = snapshot(stack, log, key, eid)
        out[key] = Clean(describe, children, counts, ops, {k: len(v) for k, v in runs.items()})
    return out


# -- collection: how many AWS calls each handler makes ---------------------------------------

def _measure_fresh() -> dict[str, dict[str, list[str]]]:
    from relayflow.local.stack import EmbeddedStack

    with EmbeddedStack() as stack, CallInjector() as injector:
        faults.register_all(stack)
        faults.wrap_handlers(stack, injector)
        with WorkerLog().installed(stack) as log:
            return {key: clean.ops for key, clean in measure(stack, injector, log).items()}


_OPS: dict[str, dict[str, list[str]]] | None = None  # workflow -> handler -> its AWS calls, in order


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    global _OPS
    if "crash_point" not in metafunc.fixturenames:
        return
    if _OPS is None:
        _OPS = _measure_fresh()
    params = []
    for key, ops in _OPS.items():
        for handler in HANDLERS:
            for k, operation in enumerate(ops[handler], 1):
                params.append(pytest.param((key, handler, k, "error"), id=f"{key}-{handler}-{k}"))
                # dying at a write; dying at a read is dying before this invocation wrote anything
                if (key, handler) in DIE_SWEEPS and operation in WRITES | SENDS:
                    params.append(pytest.param((key, handler, k, "die"), id=f"{key}-{handler}-{k}-die"))
    metafunc.parametrize("crash_point", params)


# -- the module's stack ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(local):
    with CallInjector() as injector:
        faults.wrap_handlers(local, injector)
        with WorkerLog().installed(local) as log:
            clean = measure(local, injector, log)
            yield local, injector, log, clean


def test_calls_match_collection(env):
    """The k ranges were measured on another stack: they must be this stack's too."""
    _, _, _, clean = env
    assert _OPS is not None
    assert {key: c.ops for key, c in clean.items()} == _OPS


def test_clean_runs_are_what_the_workflows_say(env):
    _, _, _, clean = env
    outputs = {key: json.loads(c.describe)["output"] for key, c in clean.items()}
    assert outputs == {"sequence": {"x": 1, "y": 2, "z": 3}, "join": {"sum": 111}, "items": {"items": [1, 2, 3]},
                       "nested": {"answer": 42}, "timeout": {"was": "timed_out"}}
    assert all(json.loads(c.describe)["status"] == "succeeded" for c in clean.values())
    assert all(n == 1 for c in clean.values() for n in c.attempts.values())  # each attempt ran once
    assert clean["items"].attempts.keys() == {f"<execution>:each:1:{i}:{a}" for i in range(3) for a in range(1, i + 2)}


def test_crash_at_every_aws_call(env, crash_point):
    stack, injector, log, clean = env
    key, handler, k, mode = crash_point
    expected = clean[key]
    faults.assert_idle(stack)
    eid = f"crash-{key}-{handler}-{k}-{mode}"
    injector.arm(handler, k, die=mode == "die")
    run_once(stack, injector, log, key, eid)
    assert injector.fired is not None, f"the {handler} handler made fewer than {k} AWS calls"
    _, _, operation = injector.fired
    describe, children, runs = snapshot(stack, log, key, eid)
    where = f"{mode} at {handler} call {k} ({operation})"

    assert describe == expected.describe, where
    assert children == expected.children, where
    # every attempt of the clean run, and no other, reached the worker ...
    assert set(runs) == set(expected.attempts), where
    # ... each through one SQS message: a re-sent dispatch never ran as a second message
    assert {a: len(set(ids)) for a, ids in runs.items()} == {a: 1 for a in runs}, where
    # ... and ran again only when the worker failed on that very message, or, when the send
    # of its batch's held outcomes failed, on every message of that batch (once each)
    reruns = {a: len(ids) - 1 for a, ids in runs.items() if len(ids) > 1}
    if handler != "worker":
        assert reruns == {}, f"{where}: reruns {reruns}"
    elif mode == "error" and operation == "SendMessageBatch":
        assert reruns and set(reruns.values()) == {1}, f"{where}: reruns {reruns}"
    elif mode == "error":
        # the worker reads the attempt and claims it before the action runs: a failure there
        # means the action had not run yet; after it, the redelivery runs it once more
        assert len(reruns) <= 1 and set(reruns.values()) <= {1}, f"{where}: reruns {reruns}"
        if operation not in ("GetItem", "PutItem"):
            assert len(reruns) == 1, f"{where}: reruns {reruns}"
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}, where
    faults.assert_idle(stack)


# -- what the sweep found, as one-line repros (fixed ones stay as regression tests) --------------------------

def nth_call(operation: str, n: int, sk: str | None = None) -> Callable[[str, dict[str, Any]], bool]:
    """A crash predicate: the n-th ``operation`` call (on the item with sort key ``sk``, if given)."""
    seen = [0]

    def pick(op: str, params: dict[str, Any]) -> bool:
        item = params.get("Key") or params.get("Item") or {}
        if op != operation or (sk is not None and item.get("sk", {}).get("S") != sk):
            return False
        seen[0] += 1
        return seen[0] == n

    return pick


def test_a_read_failing_while_rendering_is_not_a_template_error(env):
    # repro: sequence a->b->c, output {x: vars.x, ...}; fail the GetItem of VAR#x made while the
    # last step renders the output (the 1st GetItem of VAR#x reads its prior value on publish)
    stack, injector, log, clean = env
    injector.arm("advance", nth_call("GetItem", 2, sk="VAR#x"))
    run_once(stack, injector, log, "sequence", "bug-read")
    assert injector.fired is not None
    describe, _, _ = snapshot(stack, log, "sequence", "bug-read")
    faults.drain_dlqs(stack)
    assert describe == clean["sequence"].describe  # not failed with "output: GetError: ..."


@pytest.mark.parametrize("die", [False, True], ids=["error", "die"])
def test_a_step_that_crashed_mid_commit_commits_from_another_batch(env, die):
    # repro: join; the 3 branch completions arrive in one advance batch whose 2nd PutItem fails
    # (error: the call raises; die: the process dies there, so nothing can clean up after it);
    # SQS then hands them back one per batch (it never promises the same batch twice)
    stack, injector, log, clean = env
    faults.fresh_case(stack)
    log.clear()
    eid = f"mid-commit-{'die' if die else 'error'}"
    stack.start("t.join", None, execution_id=eid)
    for queue in ("event", "task", "event", "task"):  # start; fan; fan done -> 3 dispatches; 3 branches
        assert stack.deliver(queue)
    injector.arm("advance", nth_call("PutItem", 2), die=die)
    assert stack.deliver("event")  # the 3 completions, one batch, crashing mid-commit
    assert injector.fired is not None
    fn, batch = stack.handlers["event"]
    stack.handlers["event"] = (fn, 1)
    try:
        stack.deliveries = 0
        stack.pump(max_deliveries=MAX_DELIVERIES)
    finally:
        stack.handlers["event"] = (fn, batch)
    describe, _, _ = snapshot(stack, log, "join", eid)
    faults.drain_dlqs(stack)
    assert describe == clean["join"].describe


def test_a_process_dying_mid_commit_leaves_nothing_a_smaller_batch_reads_as_committed(env):
    # repro: join; the 3 branch completions in one batch; the process dies at the step's 4th PutItem
    # (RUN#b1, RUN#b2 written); SQS hands the completions back one per batch
    stack, injector, log, clean = env
    faults.fresh_case(stack)
    log.clear()
    eid = "mid-commit-die-4"
    stack.start("t.join", None, execution_id=eid)
    for queue in ("event", "task", "event", "task"):
        assert stack.deliver(queue)
    injector.arm("advance", nth_call("PutItem", 4), die=True)
    assert stack.deliver("event")
    assert injector.fired is not None
    fn, batch = stack.handlers["event"]
    stack.handlers["event"] = (fn, 1)
    try:
        stack.deliveries = 0
        stack.pump(max_deliveries=MAX_DELIVERIES)
    finally:
        stack.handlers["event"] = (fn, batch)
    describe, _, _ = snapshot(stack, log, "join", eid)
    faults.drain_dlqs(stack)
    assert describe == clean["join"].describe  # actual: "running", merge never runs, nothing queued
