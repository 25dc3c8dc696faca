"""Pause, resume, cancel, workflow timeouts and nested control (LANGUAGE.md §9, §6),
driven step by step through the in-memory stack with its virtual clock."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relayflow.actions.worker import run_attempt
from relayflow.core.loader import load_text
from relayflow.core.messages import AttemptFinished
from relayflow.harness import MemoryStack


def make_stack(*workflows: str) -> MemoryStack:
    stack = MemoryStack(seed=0)
    for text in workflows:
        stack.register(load_text(text, "workflow.yaml"))
    return stack


def runs(stack: MemoryStack, eid: str) -> list[tuple[str, int, str, int]]:
    return [(t["name"], t["run"], t["status"], t["attempts"]) for t in stack.describe(eid)["tasks"]]


def run_of(stack: MemoryStack, eid: str, task: str, run: int = 1) -> dict[str, Any]:
    found = [t for t in stack.describe(eid)["tasks"] if t["name"] == task and t["run"] == run]
    assert found, f"no run {task}#{run} in {runs(stack, eid)}"
    return found[0]


def step_until(stack: MemoryStack, done: Callable[[], bool], limit: int = 10_000) -> None:
    for _ in range(limit):
        if done():
            return
        if not stack.step():
            break
    assert done(), "the condition never came true"


def started(stack: MemoryStack, eid: str, task: str) -> bool:
    return any(e.type == "task.started" and e.detail.get("task") == task and e.detail["execution_id"] == eid
               for e in stack.bus.events)


def status_of(stack: MemoryStack, eid: str, task: str, run: int = 1) -> str | None:
    for t in stack.describe(eid)["tasks"]:
        if t["name"] == task and t["run"] == run:
            return t["status"]
    return None


def held_or_absent(stack: MemoryStack, eid: str, task: str) -> bool:
    """A task that must not have started: no run, or a run still pending with no attempt."""
    return all(t["status"] == "pending" and t["attempts"] == 0
               for t in stack.describe(eid)["tasks"] if t["name"] == task) and not started(stack, eid, task)


SEQUENCE = """
name: c.seq
tasks:
  - {name: a, action: core.sleep, input: {seconds: 10}, on_success: b}
  - {name: b, action: core.echo, input: {from_a: "{{ task.a.result }}"}, on_success: c}
  - {name: c, action: core.noop}
output: {b: "{{ task.b.result }}"}
"""


# -- pause / resume ---------------------------------------------------------------

def test_pause_lets_a_running_attempt_finish_and_holds_its_successors():
    stack = make_stack(SEQUENCE)
    eid = stack.start("c.seq")
    step_until(stack, lambda: status_of(stack, eid, "a") == "running")
    stack.control(eid, "pause")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "paused"
    assert run_of(stack, eid, "a")["status"] == "succeeded"
    assert run_of(stack, eid, "a")["result"] == {"slept": 10}
    assert held_or_absent(stack, eid, "b")
    assert held_or_absent(stack, eid, "c")
    assert not stack.task_queue.messages
    stack.control(eid, "resume")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "succeeded"
    assert runs(stack, eid) == [("a", 1, "succeeded", 1), ("b", 1, "succeeded", 1), ("c", 1, "succeeded", 1)]
    assert d["output"] == {"b": {"from_a": {"slept": 10}}}


def test_a_paused_workflow_stays_paused_however_long_it_waits():
    stack = make_stack(SEQUENCE)
    eid = stack.start("c.seq")
    stack.control(eid, "pause")
    stack.pump()
    t_paused = stack.clock.now()
    stack.pump()  # nothing left to deliver: time does not move, nothing starts
    assert stack.clock.now() == t_paused
    assert stack.describe(eid)["status"] == "paused"
    assert held_or_absent(stack, eid, "b")


def test_pause_holds_a_retry_that_comes_due_and_resume_starts_it():
    stack = make_stack("""
name: c.retry
tasks:
  - name: a
    action: core.fail
    input: {succeed_on_attempt: 2}
    retry: {count: 3, delay: 5}
""")
    eid = stack.start("c.retry")
    stack.control(eid, "pause")
    stack.pump()
    assert stack.describe(eid)["status"] == "paused"
    assert runs(stack, eid) == [("a", 1, "running", 1)]  # the retry's time came, but it did not start
    assert not stack.task_queue.messages
    stack.control(eid, "resume")
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    assert runs(stack, eid) == [("a", 1, "succeeded", 2)]


def test_pause_stops_with_items_from_starting_more_items():
    stack = make_stack("""
name: c.items
tasks:
  - name: each
    action: core.sleep
    with_items: [1, 2, 3]
    concurrency: 1
    input: {seconds: "{{ item }}"}
""")
    eid = stack.start("c.items")
    step_until(stack, lambda: status_of(stack, eid, "each") == "running")
    stack.control(eid, "pause")
    stack.pump()
    units = stack.store.list_units(eid, "each", 1)
    assert [u.status for u in units] == ["succeeded", "pending", "pending"]
    assert stack.describe(eid)["status"] == "paused"
    stack.control(eid, "resume")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "succeeded"
    assert d["tasks"][0]["result"] == [{"slept": 1}, {"slept": 2}, {"slept": 3}]


def test_a_paused_workflow_whose_work_all_finishes_ends_normally():
    stack = make_stack("""
name: c.pause_end
tasks:
  - {name: a, action: core.sleep, input: {seconds: 3}}
output: {done: true}
""")
    eid = stack.start("c.pause_end")
    stack.control(eid, "pause")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "succeeded"
    assert d["output"] == {"done": True}


def test_resume_without_pause_and_pause_twice_change_nothing():
    stack = make_stack(SEQUENCE)
    eid = stack.start("c.seq")
    stack.control(eid, "resume")
    stack.control(eid, "pause")
    stack.control(eid, "pause")
    stack.pump()
    assert stack.describe(eid)["status"] == "paused"
    stack.control(eid, "resume")
    stack.control(eid, "resume")
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    assert [r[0] for r in runs(stack, eid)] == ["a", "b", "c"]


def test_fail_fast_while_paused_ends_failed_and_drops_held_work():
    stack = make_stack("""
name: c.pause_fail
tasks:
  - {name: start, action: core.noop, on_success: [bad, slow]}
  - {name: bad, action: core.fail, input: {message: nope}}
  - {name: slow, action: core.sleep, input: {seconds: 5}, on_success: after}
  - {name: after, action: core.noop}
""")
    eid = stack.start("c.pause_fail")
    step_until(stack, lambda: status_of(stack, eid, "slow") == "running")
    stack.control(eid, "pause")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "failed"
    assert d["error"]["task"] == "bad"
    assert not started(stack, eid, "after")


def test_pause_reaches_a_child_workflow_and_resume_continues_it():
    stack = make_stack("""
name: c.child_seq
tasks:
  - {name: x, action: core.sleep, input: {seconds: 4}, on_success: y}
  - {name: y, action: core.echo, input: {v: 1}}
output: "{{ task.y.result }}"
""", """
name: c.parent_pause
tasks:
  - {name: call, workflow: c.child_seq, on_success: after}
  - {name: after, action: core.noop}
""")
    eid = stack.start("c.parent_pause")
    child = f"{eid}.call.1.0.1"
    step_until(stack, lambda: stack.store.get_execution(child) is not None
               and status_of(stack, child, "x") == "running")
    stack.control(eid, "pause")
    stack.pump()
    assert stack.describe(eid)["status"] == "paused"
    assert stack.describe(child)["status"] == "paused"
    assert status_of(stack, child, "x") == "succeeded"
    assert held_or_absent(stack, child, "y")
    stack.control(eid, "resume")
    stack.pump()
    assert stack.describe(child)["status"] == "succeeded"
    assert stack.describe(eid)["status"] == "succeeded"
    assert run_of(stack, eid, "call")["result"] == {"v": 1}


# -- cancel -------------------------------------------------------------------------

def test_cancel_marks_running_work_cancelled_and_starts_nothing_more():
    stack = make_stack(SEQUENCE)
    eid = stack.start("c.seq")
    step_until(stack, lambda: status_of(stack, eid, "a") == "running")
    stack.control(eid, "cancel")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "cancelled"
    assert d["error"] is None
    assert d["output"] is None
    assert runs(stack, eid) == [("a", 1, "cancelled", 1)]
    assert not started(stack, eid, "b")


def test_a_late_result_of_a_cancelled_attempt_is_ignored():
    stack = make_stack("""
name: c.late
tasks:
  - {name: a, action: core.echo, input: {v: 1}, on_success: b}
  - {name: b, action: core.noop}
""")
    eid = stack.start("c.late")
    assert stack.task_queue.messages  # a's attempt is dispatched
    stack.control(eid, "cancel")
    stack.pump()  # the worker runs the attempt, and its result arrives after the cancel
    d = stack.describe(eid)
    assert d["status"] == "cancelled"
    assert runs(stack, eid) == [("a", 1, "cancelled", 1)]
    assert run_of(stack, eid, "a")["result"] is None
    assert not started(stack, eid, "b")


def test_cancel_while_paused_drops_held_work():
    stack = make_stack(SEQUENCE)
    eid = stack.start("c.seq")
    stack.control(eid, "pause")
    stack.pump()
    assert stack.describe(eid)["status"] == "paused"
    stack.control(eid, "cancel")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "cancelled"
    assert all(t["status"] in ("succeeded", "cancelled") for t in d["tasks"])
    assert not started(stack, eid, "b")
    stack.control(eid, "resume")
    stack.pump()
    assert stack.describe(eid)["status"] == "cancelled"
    assert not started(stack, eid, "b")


def test_cancel_drops_a_pending_retry_and_unstarted_items():
    stack = make_stack("""
name: c.cancel_pending
tasks:
  - {name: flaky, action: core.fail, retry: {count: 5, delay: 100}}
  - name: each
    action: core.sleep
    with_items: [5, 5, 5]
    concurrency: 1
    input: {seconds: "{{ item }}"}
""")
    eid = stack.start("c.cancel_pending")
    step_until(stack, lambda: stack.clock.now() > 0 and status_of(stack, eid, "flaky") == "running"
               and stack.store.list_units(eid, "each", 1)[0].status == "succeeded")
    stack.control(eid, "cancel")
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "cancelled"
    assert runs(stack, eid) == [("flaky", 1, "cancelled", 1), ("each", 1, "cancelled", 1)]
    assert [u.status for u in stack.store.list_units(eid, "each", 1)] == ["succeeded", "cancelled", "cancelled"]
    assert stack.timers.next_due() is None  # nothing left to wake up


def test_cancel_after_the_end_changes_nothing():
    stack = make_stack(SEQUENCE)
    eid = stack.start("c.seq")
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    stack.control(eid, "cancel")
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"


def test_cancel_cancels_child_workflows_too():
    stack = make_stack("""
name: c.child_sleep
tasks:
  - {name: nap, action: core.sleep, input: {seconds: 100}, on_success: after}
  - {name: after, action: core.noop}
""", """
name: c.parent_cancel
tasks:
  - {name: call, workflow: c.child_sleep}
""")
    eid = stack.start("c.parent_cancel")
    t0 = stack.clock.now()
    child = f"{eid}.call.1.0.1"
    step_until(stack, lambda: stack.store.get_execution(child) is not None
               and status_of(stack, child, "nap") == "running")
    stack.control(eid, "cancel")
    stack.pump()
    assert stack.describe(eid)["status"] == "cancelled"
    assert runs(stack, eid) == [("call", 1, "cancelled", 1)]
    assert stack.describe(child)["status"] == "cancelled"
    assert runs(stack, child) == [("nap", 1, "cancelled", 1)]
    assert stack.clock.now() - t0 < 100  # nobody waited for the child's nap


def test_a_child_cancelled_on_its_own_fails_the_parents_task_with_child_workflow_cancelled():
    stack = make_stack("""
name: c.child_sleep2
tasks:
  - {name: nap, action: core.sleep, input: {seconds: 100}}
""", """
name: c.parent_child_cancelled
tasks:
  - {name: call, workflow: c.child_sleep2, on_failure: caught}
  - {name: caught, action: core.noop}
""")
    eid = stack.start("c.parent_child_cancelled")
    child = f"{eid}.call.1.0.1"
    step_until(stack, lambda: stack.store.get_execution(child) is not None)
    stack.control(child, "cancel")
    stack.pump()
    assert stack.describe(child)["status"] == "cancelled"
    d = stack.describe(eid)
    assert d["status"] == "succeeded"
    assert runs(stack, eid) == [("call", 1, "failed", 1), ("caught", 1, "succeeded", 1)]
    assert run_of(stack, eid, "call")["error"]["type"] == "ChildWorkflowCancelled"


def test_a_parent_task_timeout_cancels_its_child():
    stack = make_stack("""
name: c.child_slow
tasks:
  - {name: nap, action: core.sleep, input: {seconds: 100}}
""", """
name: c.parent_task_timeout
tasks:
  - {name: call, workflow: c.child_slow, timeout: 5, on_timeout: caught}
  - {name: caught, action: core.noop}
""")
    eid = stack.start("c.parent_task_timeout")
    t0 = stack.clock.now()
    stack.pump()
    child = f"{eid}.call.1.0.1"
    assert stack.describe(eid)["status"] == "succeeded"
    assert runs(stack, eid) == [("call", 1, "timed_out", 1), ("caught", 1, "succeeded", 1)]
    assert stack.describe(child)["status"] == "cancelled"
    assert stack.clock.now() - t0 == 5


# -- late completions ----------------------------------------------------------------

def test_a_late_completion_of_a_timed_out_attempt_is_ignored():
    stack = make_stack("""
name: c.late_timeout
tasks:
  - {name: a, action: core.echo, input: {v: late}, timeout: 5, on_timeout: caught, on_success: never}
  - {name: caught, action: core.noop}
  - {name: never, action: core.noop}
""")
    eid = stack.start("c.late_timeout")
    held = stack.task_queue.messages.popleft()  # the worker is slow: its attempt is still out
    stack.pump()
    assert runs(stack, eid) == [("a", 1, "timed_out", 1), ("caught", 1, "succeeded", 1)]
    stack.event_queue.send(run_attempt(stack.registry, held))  # now it completes, too late
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "succeeded"
    assert runs(stack, eid) == [("a", 1, "timed_out", 1), ("caught", 1, "succeeded", 1)]
    assert run_of(stack, eid, "a")["result"] is None
    assert run_of(stack, eid, "a")["error"]["type"] == "Timeout"


def test_a_late_completion_of_an_earlier_attempt_does_not_end_the_retry():
    stack = make_stack("""
name: c.late_retry
tasks:
  - {name: a, action: core.sleep, input: {seconds: 10}, timeout: 5, retry: {count: 1}}
""")
    eid = stack.start("c.late_retry")
    step_until(stack, lambda: runs(stack, eid) == [("a", 1, "running", 2)])
    # attempt 1's result turns up while attempt 2 runs: it must not count
    stack.event_queue.send(AttemptFinished(eid, "a", 1, 0, 1, "succeeded", {"slept": "stale"}))
    stack.pump()
    assert runs(stack, eid) == [("a", 1, "timed_out", 2)]
    assert run_of(stack, eid, "a")["result"] is None


# -- workflow timeout -------------------------------------------------------------

def test_workflow_timeout_ends_timed_out_and_cancels_running_work_and_children():
    stack = make_stack("""
name: c.child_long
tasks:
  - {name: nap, action: core.sleep, input: {seconds: 100}}
""", """
name: c.wf_timeout
timeout: 7
tasks:
  - {name: call, workflow: c.child_long}
  - {name: nap, action: core.sleep, input: {seconds: 100}, on_complete: after}
  - {name: after, action: core.noop}
""")
    eid = stack.start("c.wf_timeout")
    t0 = stack.clock.now()
    stack.pump()
    d = stack.describe(eid)
    assert d["status"] == "timed_out"
    assert d["error"]["task"] is None and d["error"]["type"] == "Timeout"
    assert runs(stack, eid) == [("call", 1, "cancelled", 1), ("nap", 1, "cancelled", 1)]
    assert stack.describe(f"{eid}.call.1.0.1")["status"] == "cancelled"
    assert stack.clock.now() - t0 == 7


# -- system scope ---------------------------------------------------------------------

def test_system_execution_id_is_the_executions_id():
    stack = make_stack("""
name: c.system
tasks:
  - {name: a, action: core.echo, input: {id: "{{ system.execution_id }}", wf: "{{ system.workflow }}"}}
""")
    eid = stack.start("c.system")
    stack.pump()
    assert run_of(stack, eid, "a")["result"] == {"id": eid, "wf": "c.system"}


# -- template limits (§8), as the conductor applies them ---------------------------------

def test_a_template_over_the_users_output_limit_fails_its_task_catchably():
    from relayflow.core.templates import Limits
    stack = MemoryStack(seed=0, limits=Limits(max_output_bytes=10_000))
    stack.register(load_text("""
name: c.limits
tasks:
  - {name: big, action: core.echo, input: {v: "{{ 'x' * 20000 }}"}, on_failure: caught}
  - {name: small, action: core.echo, input: {v: "{{ 'x' * 2000 }}"}}
  - {name: caught, action: core.noop}
""", "workflow.yaml"))
    result = stack.run("c.limits")
    assert result["status"] == "succeeded"
    assert {t["name"]: t["status"] for t in result["tasks"]} == \
        {"big": "failed", "small": "succeeded", "caught": "succeeded"}
    big = result["tasks"][0]
    assert big["error"]["type"] == "TemplateError"
    assert "max_output_bytes" in big["error"]["message"]
