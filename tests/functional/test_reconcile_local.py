"""The reconciler on the embedded stack: ReconcileFunction's handler, run by the pump on
its schedule as the schedule rule runs it on AWS, and within the function's time.

A message lost between a commit and its send is re-sent once the execution's deadline
has passed, without anyone running the reconciler by hand; a run short of time keeps
its cursor in the table (``MARK#reconciler``) and the next run resumes there.
"""
from __future__ import annotations

from typing import Any

import pytest

from relayflow.engine import START_GRACE
from relayflow.reconciler import CURSOR, EVERY, RESERVE_MS

from . import faults


@pytest.fixture(scope="module")
def local():
    """The embedded stack, whose FIFO five-minute deduplication window follows its virtual
    clock: the reconciler's re-send comes 20 minutes after the lost send, outside the
    window, as on AWS (on the real clock the whole test runs inside it)."""
    from relayflow.local.stack import EmbeddedStack

    with EmbeddedStack() as stack:
        faults.register_all(stack)
        yield stack


def purge(stack: Any, queue: str) -> int:
    """Receive and delete everything visible on ``queue``: messages a dead process never sent."""
    url, gone = stack.queue_urls[queue], 0
    while True:
        msgs = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return gone
        stack.sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        gone += len(msgs)


class ShortContext:
    """A Lambda context with time for ``checks`` executions: then less than the reserve is left."""

    def __init__(self, checks: int):
        self.left = checks
        self.function_name, self.function_version = "relayflow-reconcile", "$LATEST"
        self.memory_limit_in_mb, self.aws_request_id = 128, "short"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:relayflow-reconcile"

    def get_remaining_time_in_millis(self) -> int:
        self.left -= 1
        return int(RESERVE_MS) + 1 if self.left >= 0 else int(RESERVE_MS) - 1


def test_the_pump_runs_the_reconciler_on_its_schedule_and_a_lost_dispatch_is_sent_again(local):
    stack = local
    faults.fresh_case(stack)
    eid = stack.start(faults.workflow_name("sequence"), None, execution_id="reconcile-lost-dispatch")
    assert stack.deliver("event")  # the start step commits and sends its dispatch ...
    assert purge(stack, "task") == 1  # ... which a dead process never sent
    deadline = stack.runtime.store.get_execution(eid).deadline
    runs = stack.reconcile_schedule.runs
    stack.pump()
    assert stack.reconcile_schedule.runs == runs + 1
    assert deadline <= stack.clock.now() < deadline + EVERY  # the first tick after the deadline
    result = stack.describe(eid)
    assert result["status"] == "succeeded", result
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    faults.assert_idle(stack)


def test_a_reconciler_run_short_of_time_resumes_from_its_cursor_in_the_table(local):
    from functions.reconcile.app import handler

    stack = local
    faults.fresh_case(stack)
    store = stack.runtime.store
    ids = [stack.start(faults.workflow_name("sequence"), None, execution_id=f"reconcile-budget-{i}")
           for i in range(7)]
    assert purge(stack, "event") == 7  # every start message lost
    stack.clock.advance_to(stack.clock.now() + START_GRACE + 1)
    totals, rounds = [], 0
    while True:
        out = handler({}, ShortContext(3))
        rounds += 1
        totals.append(out["stuck"])
        if out["finished"]:
            break
        assert store.get_mark(CURSOR) is not None  # kept in the table for the next run
        assert rounds < 10
    assert totals == [3, 3, 1] and store.get_mark(CURSOR) is None
    stack.pump()
    assert [stack.describe(e)["status"] for e in ids] == ["succeeded"] * 7
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    faults.assert_idle(stack)


APPROVAL_LATER = """
name: rl.later
tasks:
  - {name: prepare, action: core.echo, input: {v: 1}, on_success: approve}
  - {name: approve, action: core.ask, input: {prompt: "Go?"}}
"""


def test_a_waiting_executions_stale_deadline_is_dropped_in_the_table(local):
    # the approval carries the deadline its first task's dispatch left; once past, the
    # reconciler finds it waiting on a person and the advance step drops it (a conditional
    # write of the head keeping its version), so the next run has nothing to look at
    from functions.reconcile.app import handler
    from relayflow.core.loader import load_text

    stack = local
    faults.fresh_case(stack)
    stack.register(load_text(APPROVAL_LATER, "later.yaml"))
    eid = stack.start("rl.later", None, execution_id="reconcile-waiting")
    stack.pump()
    head = stack.runtime.store.get_execution(eid)
    assert head.status == "running" and head.deadline is not None
    stack.clock.advance_to(head.deadline + 1)
    assert handler({}, ShortContext(10))["stuck"] == 0
    assert stack.deliver("event")  # the waiting mark's step
    after = stack.runtime.store.get_execution(eid)
    assert after.deadline is None and after.version == head.version
    assert stack.describe(eid)["status"] == "running"
    (inquiry,) = [i for i in stack.service.list_inquiries("pending") if i["execution_id"] == eid]
    stack.service.respond(inquiry["id"], {"ok": True})
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}


NAP_A_DAY = """
name: rl.nap
tasks:
  - {name: nap, action: core.sleep, input: {seconds: 86400}}
"""


def test_a_run_reads_the_heads_that_are_due_not_the_finished_nor_the_far_ones(local, monkeypatch):
    # DynamoDB's ``due`` index holds an unfinished head while it has a deadline, by its bucket:
    # a run reads the heads of the buckets up to now's, nothing of a finished execution or of
    # one whose deadline is a day away
    from functions.reconcile.app import handler
    from relayflow.adapters.dynamodb_due import DUE_BUCKET
    from relayflow.core.loader import load_text

    stack = local
    faults.fresh_case(stack)
    store = stack.runtime.store
    stack.register(load_text(NAP_A_DAY, "nap.yaml"))
    done = [stack.start(faults.workflow_name("sequence"), None, execution_id=f"reconcile-done-{i}") for i in range(3)]
    stack.pump()
    assert [stack.describe(e)["status"] for e in done] == ["succeeded"] * 3
    napping = stack.start("rl.nap", None, execution_id="reconcile-napping")
    while stack.deliver("event") or stack.deliver("task"):
        pass  # started, its day-long timer scheduled (the pump would jump the clock to it)
    lost = stack.start(faults.workflow_name("sequence"), None, execution_id="reconcile-due")
    assert purge(stack, "event") == 1  # its start message never left

    def item(eid):
        return store.model.get(f"EXEC#{eid}", "HEAD", consistent_read=True)
    assert all(item(e).due_pk is None for e in done)  # finished: out of the index
    nap = store.get_execution(napping)
    assert nap.deadline >= stack.clock.now() + 86_400
    assert item(napping).due_sk == f"{int(nap.deadline // DUE_BUCKET):012d}#{napping}"
    assert item(lost).due_pk is not None

    read: list[str] = []
    get_execution = store.get_execution
    monkeypatch.setattr(store, "get_execution", lambda eid: read.append(eid) or get_execution(eid))
    stack.clock.advance_to(stack.clock.now() + START_GRACE + 1)
    out = handler({}, ShortContext(10))
    assert out["stuck"] >= 1 and lost in read
    assert not set(read) & {*done, napping}, read
    monkeypatch.undo()
    stack.pump()  # (on its virtual clock the pump jumps to the nap's end too)
    assert [stack.describe(e)["status"] for e in (lost, napping)] == ["succeeded"] * 2
    assert item(lost).due_pk is None and item(napping).due_pk is None
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
