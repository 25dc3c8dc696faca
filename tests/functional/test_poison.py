"""DESIGN §3, "nothing lost on bad input": poison messages.

A message that can never be processed (not JSON, another envelope version, an
unknown kind, a kind the queue does not take) is retried until SQS has delivered it
``maxReceiveCount`` times, then parked on the queue's dead-letter queue; when its FIFO
group names an execution (the event queue's group is the execution id), that
execution is marked failed with a PoisonMessage error giving the reason. A valid
message for an execution that does not exist is dropped at once. Other executions,
even those delivered in the same batch, keep moving.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from relayflow.local import resources

from . import faults

MAX = resources.MAX_RECEIVE_COUNT

MALFORMED = {
    "not_json": (lambda eid: "this is { not json", "message body is not JSON"),
    "wrong_version": (lambda eid: json.dumps({"v": 99, "m": {"kind": "start", "execution_id": eid}}),
                      "not a relayflow v1 envelope"),
    "unknown_kind": (lambda eid: json.dumps({"v": 1, "m": {"kind": "bogus", "execution_id": eid}}),
                     "unknown message kind"),
}


class Receipts:
    """Counts how many times each body reached a handler (wraps the stack's handler table)."""

    def __init__(self, stack: Any):
        self.stack = stack
        self.counts: dict[str, int] = {}
        self.saved = dict(stack.handlers)

    def __enter__(self) -> Receipts:
        for queue, (fn, batch) in self.saved.items():
            def handler(event: dict[str, Any], context: Any, fn: Any = fn) -> Any:
                for record in event["Records"]:
                    self.counts[record["body"]] = self.counts.get(record["body"], 0) + 1
                return fn(event, context)
            self.stack.handlers[queue] = (handler, batch)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.handlers.update(self.saved)


@pytest.fixture(scope="module")
def stack(local):
    clean = {}
    for key in ("sequence", "sleep"):
        faults.fresh_case(local)
        eid = f"clean-{key}"
        local.start(faults.workflow_name(key), None, execution_id=eid)
        local.pump(max_deliveries=10**9)
        clean[key] = faults.normalise(local.describe(eid))
    local.clean = clean
    yield local


def begin(stack: Any) -> None:
    faults.assert_idle(stack)
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    faults.fresh_case(stack)


def pump(stack: Any) -> None:
    stack.deliveries = 0
    stack.pump(max_deliveries=500)


def bystander_ok(stack: Any, eid: str) -> None:
    assert faults.normalise(stack.describe(eid)) == stack.clean["sequence"]


# -- malformed messages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_event_fails_its_execution_and_is_parked(stack, case):
    begin(stack)
    make, reason = MALFORMED[case]
    victim, other = f"poison-ev-{case}", f"poison-ev-{case}-other"
    body = make(victim)
    with Receipts(stack) as receipts:
        stack.start("t.sleep", None, execution_id=victim)
        stack.start("t.sequence", None, execution_id=other)
        faults.send_raw(stack, "event", body, group=victim)
        pump(stack)
    assert receipts.counts[body] == MAX  # retried until SQS gave up on it
    assert faults.drain_dlqs(stack) == {"task": [], "event": [body]}
    result = stack.describe(victim)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "PoisonMessage"
    assert reason in result["error"]["message"]
    assert f"after {MAX} deliveries" in result["error"]["message"]
    bystander_ok(stack, other)  # the other execution never noticed
    faults.assert_idle(stack)


@pytest.mark.parametrize("case", [*MALFORMED, "not_a_dispatch"])
def test_malformed_task_is_parked(stack, case):
    begin(stack)
    if case == "not_a_dispatch":
        make, reason = (lambda eid: json.dumps({"v": 1, "m": {"kind": "start", "execution_id": eid}}), None)
    else:
        make, reason = MALFORMED[case]
    other = f"poison-task-{case}-other"
    body = make("ghost-execution")
    with Receipts(stack) as receipts:
        faults.send_raw(stack, "task", body, group="ghost-execution:t:1:0:1")
        stack.start("t.sequence", None, execution_id=other)
        pump(stack)
    assert receipts.counts[body] == MAX
    assert faults.drain_dlqs(stack) == {"task": [body], "event": []}
    bystander_ok(stack, other)
    faults.assert_idle(stack)


def test_event_for_an_unknown_execution_is_dropped(stack):
    begin(stack)
    other = "poison-unknown-other"
    bodies = [json.dumps({"v": 1, "m": m}) for m in (
        {"kind": "start", "execution_id": "ghost-1"},
        {"kind": "attempt_finished", "execution_id": "ghost-2", "task": "a", "run": 1, "unit": 0, "attempt": 1,
         "status": "succeeded", "result": {}, "error": None},
        {"kind": "control", "execution_id": "ghost-3", "action": "cancel", "reason": None, "request_id": "r"},
    )]
    with Receipts(stack) as receipts:
        stack.start("t.sequence", None, execution_id=other)
        for body in bodies:
            faults.send_raw(stack, "event", body, group=json.loads(body)["m"]["execution_id"])
        pump(stack)
    assert [receipts.counts[b] for b in bodies] == [1, 1, 1]  # handled (dropped) on first delivery
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    for ghost in ("ghost-1", "ghost-2", "ghost-3"):
        with pytest.raises(Exception, match="no execution"):
            stack.describe(ghost)
    bystander_ok(stack, other)
    faults.assert_idle(stack)


def test_dispatch_for_an_unknown_execution_leaves_no_trace(stack):
    """The worker does not look the execution up (it runs the action: see
    test_redelivery's dispatch-after-cancel); its completion is then dropped."""
    begin(stack)
    dispatch = {"kind": "dispatch", "execution_id": "ghost-4", "workflow": "t.sequence", "task": "a", "run": 1,
                "unit": 0, "attempt": 1, "action": "core.echo", "input": {"v": 1}, "callback": False}
    body = json.dumps({"v": 1, "m": dispatch})
    with Receipts(stack) as receipts:
        faults.send_raw(stack, "task", body, group="ghost-4:a:1:0:1")
        pump(stack)
    assert receipts.counts[body] == 1
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    faults.assert_idle(stack)


# -- processing that raises every time -----------------------------------------------------------------------

class Boom(Exception):
    pass


def test_event_that_always_raises_fails_only_its_execution(stack, monkeypatch):
    import relayflow.engine as engine

    begin(stack)
    victim, other = "poison-raise", "poison-raise-other"

    class Conductor(engine.Conductor):
        def handle(self, event: Any) -> Any:
            if self.head.id == victim:
                raise Boom("the conductor cannot handle this execution")
            return super().handle(event)

    monkeypatch.setattr(engine, "Conductor", Conductor)
    batches: list[set[str]] = []
    advance, size = stack.handlers["event"]

    def spy(event: dict[str, Any], context: Any) -> Any:
        batches.append({r["attributes"]["MessageGroupId"] for r in event["Records"]})
        return advance(event, context)

    stack.handlers["event"] = (spy, size)
    try:
        stack.start("t.sequence", None, execution_id=victim)
        stack.start("t.sequence", None, execution_id=other)
        pump(stack)
    finally:
        stack.handlers["event"] = (advance, size)
    assert {victim, other} in batches  # both executions' starts came in one batch
    [parked] = faults.drain_dlqs(stack)["event"]
    assert json.loads(parked)["m"] == {"kind": "start", "execution_id": victim}
    result = stack.describe(victim)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "PoisonMessage"
    assert "the conductor cannot handle this execution" in result["error"]["message"]
    assert result["tasks"] == []
    bystander_ok(stack, other)
    faults.assert_idle(stack)


def test_an_execution_failed_without_the_conductor_expires_all_together(stack, monkeypatch):
    """Failed by the store alone (mark_failed: the conductor raises on every outcome of the
    execution), its records (runs, the step's intent) expire with the head, one retention after
    it ended, as after any end; its claims no later."""
    import relayflow.engine as engine
    from relayflow.core.messages import AttemptFinished

    from .test_retention import partition

    begin(stack)
    victim = "poison-expiry"

    class Conductor(engine.Conductor):
        def handle(self, event: Any) -> Any:
            if self.head.id == victim and isinstance(event, AttemptFinished):
                raise Boom("the conductor cannot take this outcome")
            return super().handle(event)

    monkeypatch.setattr(engine, "Conductor", Conductor)
    stack.start("t.sequence", None, execution_id=victim)
    pump(stack)
    assert len(faults.drain_dlqs(stack)["event"]) == 1  # the outcome, parked
    result = stack.describe(victim)
    assert result["status"] == "failed" and result["error"]["type"] == "PoisonMessage"
    assert "the conductor cannot take this outcome" in result["error"]["message"]
    head = stack.runtime.store.get_execution(victim)
    records = partition(stack, victim)
    assert any(sk.startswith("RUN#") for sk in records) and any(sk.startswith("CLAIM#") for sk in records)
    end = int(head.finished_at) + stack.runtime.store.retention
    # every record expires with the head; a claim, which carries its own expiry from the moment
    # it was made (it matters only while its attempt runs), no later than that
    claims = {sk: at for sk, at in records.items() if sk.startswith("CLAIM#")}
    assert {sk: at for sk, at in records.items() if sk not in claims} == dict.fromkeys(set(records) - set(claims), end)
    assert all(at is not None and at <= end for at in claims.values())
    faults.assert_idle(stack)


def test_dispatch_that_always_raises_fails_its_execution(stack, monkeypatch):
    """The worker gives up on a dispatch's last delivery: the attempt fails with the reason,
    an unhandled task failure fails the workflow; another execution is untouched."""
    begin(stack)
    victim, other = "poison-worker", "poison-worker-other"
    delivery = stack.runtime.delivery
    original = delivery.runner

    def run_attempt(command: Any) -> Any:
        if command.execution_id == victim:
            raise Boom("the worker cannot run this attempt")
        return original(command)

    monkeypatch.setattr(delivery, "runner", run_attempt)
    stack.start("t.sequence", None, execution_id=victim)
    stack.start("t.sequence", None, execution_id=other)
    pump(stack)
    dead = faults.drain_dlqs(stack)
    assert [json.loads(b)["m"]["execution_id"] for b in dead["task"]] == [victim]
    assert dead["event"] == []
    result = stack.describe(victim)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "PoisonMessage"
    assert result["error"]["task"] == "a"
    assert "the worker cannot run this attempt" in result["error"]["message"]
    assert [(t["name"], t["status"], t["attempts"]) for t in result["tasks"]] == [("a", "failed", 1)]
    assert result["tasks"][0]["error"]["type"] == "PoisonMessage"
    bystander_ok(stack, other)
    faults.assert_idle(stack)


# -- the execution a poison message fails ends like any failed execution ------------------------------------------

def test_an_execution_failed_by_poison_has_no_running_runs(stack):
    """Its runs end (cancelled) and its timers go, as when the conductor fails it."""
    begin(stack)
    victim = "poison-runs"
    stack.start("t.sleep", None, execution_id=victim)
    faults.send_raw(stack, "event", "not json", group=victim)
    pump(stack)
    faults.drain_dlqs(stack)
    result = stack.describe(victim)
    assert result["status"] == "failed"
    assert [(t["name"], t["status"]) for t in result["tasks"]] == [("nap", "cancelled")]


def test_a_child_failed_by_poison_fails_its_parent_task(stack):
    """A child failed by a poison message tells its parent, whose task fails."""
    begin(stack)
    parent = "poison-parent"
    child = parent + faults.CHILDREN["nested"][0]
    stack.start("t.nested", None, execution_id=parent)
    assert stack.deliver("event")  # the parent starts: the child's head is written, its start queued
    faults.send_raw(stack, "event", "not json", group=child)
    pump(stack)
    faults.drain_dlqs(stack)
    assert stack.describe(child)["status"] == "failed"
    result = stack.describe(parent)
    assert result["status"] == "failed"
    assert result["tasks"][0]["status"] == "failed"
