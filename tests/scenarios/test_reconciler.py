"""The reconciler (DESIGN §3: every waiting state has a deadline and something that acts on it).

On the memory stack with its virtual clock: what a dead process lost between a
commit and its sends (a start message, a dispatch) is re-sent once the deadline
in the head has passed; an execution that still does not move is failed with the
reason; one waiting on a person has no deadline and is left alone.
"""
from __future__ import annotations

from relayflow.core.loader import load_text
from relayflow.engine import ATTEMPT_GRACE, START_GRACE
from relayflow.harness import MemoryStack
from relayflow.reconciler import FAIL_AFTER, Reconciler

SEQ = """
name: r.seq
tasks:
  - {name: a, action: core.echo, input: {v: 1}, on_success: b}
  - {name: b, action: core.echo, input: {v: 2}}
output: {b: "{{ task.b.result.v }}"}
"""
ASK = """
name: r.ask
tasks:
  - {name: approve, action: core.ask, input: {prompt: "Go?"}}
"""


def stack_with(*texts: str) -> tuple[MemoryStack, Reconciler]:
    stack = MemoryStack(seed=0, defer_start=True)  # started as on AWS
    for text in texts:
        stack.register(load_text(text, "workflow.yaml"))
    return stack, Reconciler(stack.store, stack.workflows, stack.event_queue, stack.clock)


def test_a_lost_start_message_is_sent_again_after_the_deadline():
    stack, reconciler = stack_with(SEQ)
    eid = stack.start("r.seq")
    stack.event_queue.messages.clear()  # the process died after writing the head
    assert reconciler.run().stuck == []  # not yet due
    stack.clock.advance_to(stack.clock.now() + START_GRACE + 1)
    assert reconciler.run().stuck == [(eid, "start re-sent")]
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    assert reconciler.run().stuck == []


def test_a_lost_dispatch_is_sent_again_after_the_deadline():
    stack, reconciler = stack_with(SEQ)
    eid = stack.start("r.seq")
    assert stack.step()  # the start step commits and dispatches a ...
    stack.task_queue.messages.clear()  # ... but the dispatch never left (the process died)
    stack.pump()
    assert stack.describe(eid)["status"] == "running"
    assert stack.store.get_execution(eid).deadline == stack.clock.now() + ATTEMPT_GRACE
    stack.clock.advance_to(stack.clock.now() + ATTEMPT_GRACE + 1)
    done = reconciler.run()
    assert done.stuck == [(eid, "last step's commands re-sent")] and done.failed == []
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "succeeded" and d["output"] == {"b": 2}
    assert stack.store.get_execution(eid).deadline is None


def test_an_execution_that_still_does_not_move_is_failed_with_the_reason():
    stack, reconciler = stack_with(SEQ)
    eid = stack.start("r.seq")
    assert stack.step()
    stack.task_queue.messages.clear()
    deadline = stack.store.get_execution(eid).deadline
    stack.clock.advance_to(deadline + FAIL_AFTER + 1)
    done = reconciler.run()
    assert [e for e, _ in done.failed] == [eid]
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "failed"
    assert d["error"]["type"] == "Stuck"
    assert "stuck: its next step was due" in d["error"]["message"]
    assert [(t["name"], t["status"]) for t in d["tasks"]] == [("a", "cancelled")]


def test_an_execution_waiting_on_a_person_has_no_deadline():
    stack, reconciler = stack_with(ASK)
    eid = stack.start("r.ask")
    stack.pump()
    assert stack.store.get_execution(eid).deadline is None
    stack.clock.advance_to(stack.clock.now() + 30 * 86_400)
    done = reconciler.run()
    assert (done.checked, done.stuck, done.failed) == (1, [], [])
