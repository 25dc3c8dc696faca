"""The reconciler (DESIGN §3: every waiting state has a deadline and something that acts on it).

On the memory stack with its virtual clock: what a dead process lost between a
commit and its sends (a start message, a dispatch) is re-sent once the deadline
in the head has passed; an execution that still does not move is failed with the
reason; one waiting on a person has no deadline and is left alone.
"""
from __future__ import annotations

import collections

from relayflow.core.loader import load_text
from relayflow.engine import ATTEMPT_GRACE, START_GRACE
from relayflow.harness import MemoryStack
from relayflow.reconciler import EVERY, FAIL_AFTER, Reconciler

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
    while stack.task_queue.messages or stack.event_queue.messages or stack.timers.next_due() is not None:
        stack.step()
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
    assert (done.checked, done.stuck, done.failed) == (0, [], [])  # not in the index of deadlines: not read


APPROVAL_LATER = """
name: r.later
tasks:
  - {name: prepare, action: core.echo, input: {v: 1}, on_success: approve}
  - {name: approve, action: core.ask, input: {prompt: "Go?"}, on_success: ship}
  - {name: ship, action: core.echo, input: {v: 2}}
"""


def test_an_approval_after_a_task_waits_past_the_deadline_that_task_left_and_is_not_failed():
    # the dispatch of ``prepare`` set a deadline that the approval's step carries over; once it
    # has passed, the execution waits on a person only: not stuck, never failed, not counted
    stack, reconciler = stack_with(APPROVAL_LATER)
    eid = stack.start("r.later")
    stack.pump()
    head = stack.store.get_execution(eid)
    assert head.status == "running" and head.deadline is not None
    assert stack.reconcile_schedule.runs == 0  # the pump left the clock alone: nothing for it to do
    stack.clock.advance_to(head.deadline + 1)
    done = reconciler.run()
    assert (done.stuck, done.failed, done.waiting) == ([], [], [eid])
    stack.pump()
    assert stack.describe(eid)["status"] == "running"
    assert stack.store.get_execution(eid).deadline is None  # the stale deadline is dropped
    stack.clock.advance_to(head.deadline + FAIL_AFTER + 3600)
    done = reconciler.run()
    assert (done.checked, done.stuck, done.failed, done.waiting) == (0, [], [], [])  # no deadline: not read
    stack.pump()
    assert stack.describe(eid)["status"] == "running"
    (inquiry,) = stack.service.list_inquiries("pending")
    stack.service.respond(inquiry["id"], {"ok": True})
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"


def test_the_memory_pump_runs_the_reconciler_on_its_schedule_and_recovers_a_lost_dispatch():
    stack, _ = stack_with(SEQ)
    eid = stack.start("r.seq")
    started = stack.clock.now()
    assert stack.step()
    stack.task_queue.messages.clear()  # the dispatch never left
    deadline = stack.store.get_execution(eid).deadline
    stack.pump()  # idle but for the lost dispatch: the schedule's first tick after its deadline
    d = stack.describe(eid)
    assert d["status"] == "succeeded" and d["output"] == {"b": 2}
    assert stack.reconcile_schedule.runs == 1
    assert (stack.clock.now() - started) % EVERY == 0 and deadline <= stack.clock.now() < deadline + EVERY


def test_a_stuck_execution_ends_failed_under_the_pump_after_fail_after():
    stack, _ = stack_with(SEQ)
    eid = stack.start("r.seq")
    assert stack.step()
    stack.task_queue.messages.clear()
    stack.execute = lambda cmd: (_ for _ in ()).throw(AssertionError("never delivered"))
    deadline = stack.store.get_execution(eid).deadline
    # every re-send is lost too: the task queue drops what it is sent
    stack.task_queue.send_all = lambda commands: None
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "failed" and d["error"]["type"] == "Stuck"
    assert stack.clock.now() > deadline + FAIL_AFTER
    assert stack.reconcile_schedule.runs == int(FAIL_AFTER // EVERY) + 2  # every 5 minutes, then the fail


def test_a_run_short_of_time_leaves_a_cursor_and_the_next_resumes_there():
    stack, reconciler = stack_with(SEQ, ASK)
    stuck = []
    for i in range(7):  # lost starts, in two workflows' indexes
        stuck.append(stack.start("r.seq", execution_id=f"s{i}"))
        stuck.append(stack.start("r.ask", execution_id=f"a{i}"))
    stack.event_queue.messages.clear()
    stack.clock.advance_to(stack.clock.now() + START_GRACE + 1)
    reconciler.page = 3  # pages end mid-run and mid-workflow
    seen, runs = [], 0
    while True:
        budget = iter(range(4))  # time for four executions a run
        done = reconciler.run(lambda budget=budget: next(budget, None) is not None)
        runs += 1
        seen += [e for e, _ in done.stuck]
        assert done.checked == len(done.stuck) <= 4
        if done.cursor is None:
            break
        assert stack.store.get_mark("reconciler") == done.cursor
    assert sorted(seen) == sorted(stuck) and runs == 4  # each once, in ceil(14 / 4) runs
    assert stack.store.get_mark("reconciler") is None  # the round ended: the next starts over
    assert len(reconciler.run().stuck) == 14


def test_on_the_real_clock_the_schedule_runs_every_five_minutes_whatever_the_pump_does():
    """What ``relayflow serve`` does: a run every EVERY seconds of the clock, busy or not."""
    from relayflow.reconciler import LocalSchedule

    class Clock:
        t = 1000.0

        def now(self) -> float:
            return self.t

    clock, ran = Clock(), []
    schedule = LocalSchedule(Reconciler(None, None, None, clock), lambda: ran.append(clock.t),  # type: ignore[arg-type]
                             clock, virtual=False)
    for t in (1000.0, 1299.0, 1300.0, 1301.0, 1599.9, 1650.0, 2000.0):
        clock.t = t
        schedule.step(idle=t == 1299.0)
    assert ran == [1300.0, 1650.0, 2000.0] and schedule.runs == 3


class CountingReads:
    """The store, with a count of each read the reconciler makes through it."""

    def __init__(self, store):
        self.store, self.reads = store, collections.Counter()

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if name.startswith(("get_", "list_", "query_")):
            def counted(*args, **kwargs):
                self.reads[name] += 1
                return attr(*args, **kwargs)
            return counted
        return attr


def test_a_second_run_reads_nothing_of_executions_legitimately_waiting_past_a_stale_deadline():
    # three approvals past the deadline their first task left, and one execution whose
    # dispatch was lost: the first run looks at every one's runs; once their stale deadlines
    # are dropped they leave the store's index of deadlines, and the second run reads nothing
    stack, _ = stack_with(APPROVAL_LATER, SEQ)
    waiting = [stack.start("r.later", execution_id=f"w{i}") for i in range(3)]
    stack.pump()
    lost = stack.start("r.seq", execution_id="lost")
    assert stack.step()  # its start step dispatches a ...
    stack.task_queue.messages.clear()  # ... that never left
    while stack.task_queue.messages or stack.event_queue.messages or stack.timers.next_due() is not None:
        stack.step()
    counting = CountingReads(stack.store)
    reconciler = Reconciler(counting, stack.workflows, stack.event_queue, stack.clock)
    later = max(stack.store.get_execution(e).deadline for e in [*waiting, lost]) + 1
    stack.clock.advance_to(later)
    first = reconciler.run()
    assert sorted(first.waiting) == sorted(waiting) and first.stuck == [(lost, "last step's commands re-sent")]
    assert counting.reads["list_runs"] == 4  # each one past its deadline looked at closer
    stack.pump()  # the engine drops the waiting ones' stale deadlines; the lost dispatch runs
    assert stack.describe(lost)["status"] == "succeeded"
    assert all(stack.store.get_execution(e).deadline is None for e in waiting)
    counting.reads.clear()
    stack.clock.advance_to(later + EVERY)
    second = reconciler.run()
    assert (second.checked, second.waiting, second.stuck, second.failed) == (0, [], [], [])
    assert counting.reads["list_runs"] == 0 and counting.reads["list_units"] == 0
    assert counting.reads["get_execution"] == 0 and counting.reads["list_due"] == 1  # one page of the index
    assert [stack.describe(e)["status"] for e in waiting] == ["running"] * 3


def test_the_store_drops_only_the_deadline_the_reconciler_judged():
    # the waiting mark names the deadline it judged: a step that came since set another,
    # which the mark must leave alone
    stack, reconciler = stack_with(APPROVAL_LATER)
    eid = stack.start("r.later")
    stack.pump()
    stale = stack.store.get_execution(eid).deadline
    assert not stack.store.clear_deadline(eid, stale + 1)  # not the head's deadline: refused
    assert stack.store.get_execution(eid).deadline == stale
    assert stack.store.clear_deadline(eid, stale)
    assert stack.store.get_execution(eid).deadline is None


def test_a_cursor_of_another_form_starts_the_round_over():
    # a mark an earlier version kept (by workflow and index position) is not a position in
    # the index of deadlines: the run starts from the beginning instead of failing on it
    stack, reconciler = stack_with(SEQ)
    eid = stack.start("r.seq")
    stack.event_queue.messages.clear()
    stack.clock.advance_to(stack.clock.now() + START_GRACE + 1)
    for mark in ('["r.seq", "0001800000000.000000#x"]', "not json", '[3]'):
        stack.store.put_mark("reconciler", mark)
        assert reconciler.run().stuck == [(eid, "start re-sent")]
        assert stack.store.get_mark("reconciler") is None
