"""DESIGN §3, "a crash is a kill": no execution is left waiting with nothing to move it.

On the memory stack, which delivers through the same delivery layer as the Lambda
handlers (``relayflow.delivery``): cancel and fail before the start step ran, a start
request retried after its start message was lost, an answer retried after its
event was lost, a poison message that fails its execution, and dispatches of an
attempt that is no longer current (claims).
"""
from __future__ import annotations

from typing import Any

import pytest

from relayflow.core.loader import load_text
from relayflow.core.messages import DispatchAttempt, Message, StartRequested
from relayflow.harness import MAX_RECEIVES, MemoryStack

SEQ = """
name: s.seq
tasks:
  - {name: a, action: core.echo, input: {v: 1}, on_success: b}
  - {name: b, action: core.echo, input: {v: 2}}
output: {b: "{{ task.b.result.v }}"}
"""

ASK = """
name: s.ask
tasks:
  - name: approve
    action: core.ask
    input: {prompt: "Ship it?"}
    on_success: done
  - {name: done, action: core.noop}
output: {answer: "{{ task.approve.result }}"}
"""


class Counting(MemoryStack):
    """Counts the actions the worker ran, by attempt key."""

    def __init__(self) -> None:
        super().__init__(seed=0, defer_start=True)  # started as on AWS
        self.ran: dict[str, int] = {}
        for text in (SEQ, ASK):
            self.register(load_text(text, "workflow.yaml"))

    def execute(self, cmd: DispatchAttempt) -> Any:
        self.ran[cmd.idempotency_key] = self.ran.get(cmd.idempotency_key, 0) + 1
        return super().execute(cmd)


class LoseSends:
    """The event queue refuses the next ``n`` sends of ``kind`` (the network, a throttle)."""

    def __init__(self, stack: MemoryStack, kind: str, n: int = 1):
        self.stack, self.kind, self.left, self.lost = stack, kind, n, 0
        self.original = stack.event_queue.send

    def __enter__(self) -> LoseSends:
        def send(message: Any) -> None:
            if message.kind == self.kind and self.left:
                self.left -= 1
                self.lost += 1
                raise ConnectionError("injected: the send did not reach the queue")
            self.original(message)
        self.stack.event_queue.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.event_queue.send = self.original  # type: ignore[method-assign]


@pytest.mark.parametrize("action,status", [("cancel", "cancelled"), ("fail", "failed")])
def test_cancel_and_fail_end_an_execution_that_has_not_started(action, status):
    stack = Counting()
    eid = stack.start("s.seq")
    stack.event_queue.messages.clear()  # its start message is not delivered (yet)
    stack.control(eid, action, "stop it")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == status
    assert d["tasks"] == []
    stack.event_queue.send(StartRequested(eid))  # the start message turns up late
    stack.pump()
    assert stack.describe(eid) == d
    assert stack.ran == {}


def test_a_start_request_retried_after_its_start_message_was_lost_starts_it():
    stack = Counting()
    with LoseSends(stack, "start") as lost, pytest.raises(ConnectionError):
        stack.service.start_request("s.seq", {}, idempotency_key="k-1")
    assert lost.lost == 1
    stack.pump()
    (head,) = stack.store.executions.values()
    assert (head.status, head.started) == ("running", False)  # written, never started
    eid, created = stack.service.start_request("s.seq", {}, idempotency_key="k-1")
    assert (eid, created) == (head.id, False)
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    assert stack.describe(eid)["output"] == {"b": 2}


def test_an_answer_retried_after_its_event_was_lost_moves_the_execution():
    stack = Counting()
    eid = stack.start("s.ask")
    stack.pump()
    (inquiry,) = stack.service.list_inquiries("pending")
    with LoseSends(stack, "callback") as lost, pytest.raises(ConnectionError):
        stack.service.respond(inquiry["id"], {"ok": True})
    assert lost.lost == 1
    stack.pump()
    assert stack.describe(eid)["status"] == "running"  # answered on record, the event never sent
    assert stack.service.respond(inquiry["id"], {"ok": True}) == {"inquiry": inquiry["id"], "status": "answered"}
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "succeeded"
    assert d["output"] == {"answer": {"ok": True}}
    with pytest.raises(Exception, match="answered, not pending"):  # another answer is still refused
        stack.service.respond(inquiry["id"], {"ok": False})


def test_a_poison_message_fails_its_execution_with_the_reason_and_spares_the_others():
    stack = Counting()
    victim, other = stack.start("s.seq"), stack.start("s.seq")
    commit = stack.store.commit

    def refuse(changes: Any) -> None:  # the victim's steps can never commit, except its failure
        if changes.execution.id == victim and changes.execution.status != "failed":
            raise TypeError("a value JSON cannot carry")
        commit(changes)

    stack.store.commit = refuse  # type: ignore[method-assign]
    stack.pump()
    d = stack.describe(victim)
    assert d["status"] == "failed"
    assert d["error"]["type"] == "PoisonMessage"
    assert f"after {MAX_RECEIVES} deliveries" in d["error"]["message"]
    assert "a value JSON cannot carry" in d["error"]["message"]
    assert [m.kind for m in stack.dead_letters] == ["start"]
    assert stack.describe(other)["status"] == "succeeded"


def test_a_dispatch_of_a_finished_attempt_is_not_run_again():
    stack = Counting()
    eid = stack.start("s.seq")
    stack.step()  # the start step dispatches a
    (dispatch,) = list(stack.task_queue.messages)
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    stack.task_queue.send(dispatch)  # sent again after the FIFO deduplication window
    stack.pump()
    assert stack.ran == {f"{eid}:a:1:0:1": 1, f"{eid}:b:1:0:1": 1}


def test_a_dispatch_queued_before_a_cancel_is_not_run():
    stack = Counting()
    eid = stack.start("s.seq")
    stack.step()  # a is dispatched
    stack.control(eid, "cancel")
    while stack.event_queue.messages:  # the cancel commits before any worker takes a
        stack.delivery.advance([stack._receive(stack.event_queue.messages.popleft(), eid)])
    stack.pump()
    assert stack.describe(eid)["status"] == "cancelled"
    assert stack.ran == {}


def test_a_second_message_for_a_claimed_attempt_is_not_run():
    stack = Counting()
    eid = stack.start("s.seq")
    stack.step()
    (dispatch,) = list(stack.task_queue.messages)
    stack.task_queue.messages.clear()
    first = stack._receive(dispatch, dispatch.idempotency_key)
    twin = Message.from_dict(dispatch.to_dict())
    second = stack._receive(twin, twin.idempotency_key)  # the same attempt, another message id
    assert first.id != second.id
    assert stack.store.claim_attempt(eid, dispatch.idempotency_key, first.id)  # the first took it
    report = stack.delivery.work([second])
    assert report.skipped == [(dispatch.idempotency_key, "another delivery claimed this attempt")]
    assert stack.ran == {}
    report = stack.delivery.work([first])  # the claimer's own message, redelivered, runs it
    assert [o.status for o, _ in report.outcomes] == ["succeeded"]
    assert stack.ran == {dispatch.idempotency_key: 1}
