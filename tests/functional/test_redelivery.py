"""DESIGN §3: a duplicated or reordered message leaves the same final state as a clean run.

Duplicates: every message of one kind (dispatch, attempt_finished from the worker, a
sleep timer or a child workflow, timer_fired for retry / timeout / workflow_timeout,
control pause / resume / cancel, start) is copied back onto its queue, same body and
group, a fresh deduplication id so SQS takes it: right after the original (``delay``
0, the next message of its FIFO group, as a redelivery is) or after some pump steps,
when the original's effects are already committed (a timer's second delivery by the
Scheduler, a dispatch redelivered after its attempt was recorded).

Out of order: a timeout timer after the attempt finished, a completion after a
cancel, a retry timer after the workflow ended, a completion after its attempt
timed out, a start repeated after the execution ended.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from . import faults
from .faults import Duplicator


def script_plain(key: str) -> Callable[[Any, Duplicator, str], None]:
    def run(stack: Any, dup: Duplicator, eid: str) -> None:
        stack.start(faults.workflow_name(key), None, execution_id=eid)
        dup.drive(stack)
    return run


def script_pause_resume(stack: Any, dup: Duplicator, eid: str) -> None:
    stack.start("t.pausable", None, execution_id=eid)
    assert stack.deliver("event")  # started: the sleep's timer is set
    dup.release()
    stack.control(eid, "pause")
    dup.drive(stack)  # the sleep ends while paused; its successor waits
    assert stack.describe(eid)["status"] == "paused"
    stack.control(eid, "resume")
    dup.drive(stack)


def script_cancel(stack: Any, dup: Duplicator, eid: str) -> None:
    stack.start("t.pausable", None, execution_id=eid)
    assert stack.deliver("event")
    dup.release()
    stack.control(eid, "cancel")
    dup.drive(stack)


SCRIPTS: dict[str, Callable[[Any, Duplicator, str], None]] = {
    **{key: script_plain(key) for key in ("sequence", "join", "items", "nested", "timeout", "sleep", "wf_timeout")},
    "pause_resume": script_pause_resume,
    "cancel": script_cancel,
}

# (script, kind of message duplicated)
DUPLICATES = [
    ("sequence", "start"), ("sequence", "dispatch"), ("sequence", "attempt_finished"),
    ("join", "dispatch"), ("join", "attempt_finished"),
    ("items", "dispatch"), ("items", "attempt_finished"), ("items", "timer_fired:retry"),
    ("nested", "start"), ("nested", "dispatch"), ("nested", "attempt_finished"),
    ("timeout", "timer_fired:timeout"), ("timeout", "attempt_finished"),
    ("sleep", "attempt_finished"),
    ("wf_timeout", "timer_fired:workflow_timeout"), ("wf_timeout", "start"),
    ("pause_resume", "control:pause"), ("pause_resume", "control:resume"), ("pause_resume", "attempt_finished"),
    ("cancel", "control:cancel"), ("cancel", "start"),
]
# A pause or resume copied behind a later control request is not a redelivery (FIFO
# keeps a group's order; a redelivered message comes back before the next one) but a
# second request: only the adjacent copy applies to them.
DELAYS = (0, 1, 3)
ADJACENT_ONLY = {"control:pause", "control:resume"}


def cases() -> list[Any]:
    out = []
    for script, kind in DUPLICATES:
        for delay in DELAYS:
            if delay and kind in ADJACENT_ONLY:
                continue
            out.append(pytest.param(script, kind, delay, id=f"{script}-{kind}-{delay}"))
    return out


@pytest.fixture(scope="module")
def env(local):
    dup = Duplicator()
    with dup.installed(local):
        clean = {}
        for script, run in SCRIPTS.items():
            faults.fresh_case(local)
            dup.clear()
            eid = f"clean-{script}"
            run(local, dup, eid)
            clean[script] = (final_state(local, script, eid), {faults.kind_of(m) for _, _, m, _ in dup.sent})
        yield local, dup, clean


def final_state(stack: Any, script: str, eid: str) -> str:
    result = stack.describe(eid)
    faults.assert_runs_numbered(result)
    states = [faults.normalise(result, eid)]
    for suffix in faults.CHILDREN.get(script, []):
        child = stack.describe(eid + suffix)
        faults.assert_runs_numbered(child)
        states.append(faults.normalise(child, eid))
    return "\n".join(states)


def test_clean_runs(env):
    _, _, clean = env
    status = {script: json.loads(state.split("\n")[0])["status"] for script, (state, _) in clean.items()}
    assert status == {"sequence": "succeeded", "join": "succeeded", "items": "succeeded", "nested": "succeeded",
                      "timeout": "succeeded", "sleep": "succeeded", "wf_timeout": "timed_out",
                      "pause_resume": "succeeded", "cancel": "cancelled"}
    for script, kind in DUPLICATES:  # every kind a case duplicates occurs in its clean run
        assert kind in clean[script][1], (script, kind)


@pytest.mark.parametrize("script,kind,delay", cases())
def test_duplicate_delivery(env, script, kind, delay):
    stack, dup, clean = env
    faults.assert_idle(stack)
    faults.fresh_case(stack)
    dup.clear()
    dup.kinds, dup.delay = {kind}, delay
    eid = f"dup-{script}-{kind.replace(':', '-')}-{delay}"
    try:
        SCRIPTS[script](stack, dup, eid)
    finally:
        dup.kinds = set()
    assert dup.copies >= 1
    assert final_state(stack, script, eid) == clean[script][0]
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    faults.assert_idle(stack)


# -- out of order -------------------------------------------------------------------------------------

def fresh(stack: Any, dup: Duplicator) -> None:
    faults.assert_idle(stack)
    faults.fresh_case(stack)
    dup.clear()


def test_timeout_timer_after_the_attempt_finished(env):
    stack, dup, _ = env
    fresh(stack, dup)
    eid = "ooo-timeout-after-finish"
    stack.start("t.guarded", None, execution_id=eid)
    for queue in ("event", "task", "event"):  # start; quick runs; quick recorded (its timeout cancelled)
        assert stack.deliver(queue)
    [(_, group, timer, body)] = dup.find("timer_fired:timeout", scheduled=True)
    assert (group, timer["task"]) == (eid, "quick")
    before = stack.describe(eid)
    assert [t["status"] for t in before["tasks"]] == ["succeeded", "running"]
    dup.inject("event", group, body)  # the Scheduler delivers it anyway (cancel raced the firing)
    dup.drive(stack)
    after = stack.describe(eid)
    assert after["status"] == "succeeded"
    assert after["tasks"][0] == before["tasks"][0]
    assert after["output"] == {"v": 7}
    assert [(t["name"], t["run"], t["status"]) for t in after["tasks"]] == [("quick", 1, "succeeded"),
                                                                           ("nap", 1, "succeeded")]


def test_completion_after_cancel(env):
    stack, dup, _ = env
    fresh(stack, dup)
    eid = "ooo-complete-after-cancel"
    stack.start("t.sequence", None, execution_id=eid)
    assert stack.deliver("event")  # a dispatched
    stack.control(eid, "cancel")
    assert stack.deliver("event")  # cancelled before the worker ran a
    cancelled = stack.describe(eid)
    assert cancelled["status"] == "cancelled"
    assert [(t["name"], t["status"]) for t in cancelled["tasks"]] == [("a", "cancelled")]
    with faults.WorkerLog().installed(stack) as log:
        assert stack.deliver("task")  # the worker finds a's run cancelled: it does not run the action
    assert log.keys(eid) == {}
    assert dup.find("attempt_finished") == []
    # a worker that checked before the cancel committed reports after it: ignored
    late = {"v": 1, "m": {"kind": "attempt_finished", "execution_id": eid, "task": "a", "run": 1, "unit": 0,
                          "attempt": 1, "status": "succeeded", "result": {"x": 1}}}
    dup.inject("event", eid, json.dumps(late))
    dup.drive(stack)
    assert stack.describe(eid) == cancelled


def test_retry_timer_after_the_workflow_ended(env):
    stack, dup, clean = env
    fresh(stack, dup)
    eid = "ooo-retry-after-end"
    script_plain("items")(stack, dup, eid)
    ended = stack.describe(eid)
    assert final_state(stack, "items", eid) == clean["items"][0]
    retries = dup.find("timer_fired:retry", scheduled=True)
    assert len(retries) == 3  # item 2 once, item 3 twice
    for _, group, _, body in retries:
        dup.inject("event", group, body)
    dup.drive(stack)
    assert stack.describe(eid) == ended


def test_completion_after_its_attempt_timed_out(env):
    stack, dup, _ = env
    fresh(stack, dup)
    eid = "ooo-complete-after-timeout"
    stack.start("t.late", None, execution_id=eid)
    assert stack.deliver("event")  # slow dispatched, its timeout set
    assert stack.fire_due()  # the timeout passes before any worker picks slow up
    assert stack.deliver("event")  # slow timed out; recover dispatched
    with faults.WorkerLog().installed(stack) as log:
        dup.drive(stack)  # the worker skips slow (its attempt timed out) and runs recover
    assert list(log.keys(eid)) == [f"{eid}:recover:1:0:1"]
    assert len(dup.find("attempt_finished")) == 1
    # a worker that took slow before its timeout committed reports after it: ignored
    late = {"v": 1, "m": {"kind": "attempt_finished", "execution_id": eid, "task": "slow", "run": 1, "unit": 0,
                          "attempt": 1, "status": "succeeded", "result": {"late": True}}}
    dup.inject("event", eid, json.dumps(late))
    dup.drive(stack)
    result = stack.describe(eid)
    assert result["status"] == "succeeded"
    assert [(t["name"], t["status"], t["attempts"], t["result"]) for t in result["tasks"]] == [
        ("slow", "timed_out", 1, None), ("recover", "succeeded", 1, {})]
    assert result["tasks"][0]["error"] == {"type": "Timeout", "message": "attempt 1 timed out after 5 s"}


def test_start_repeated_after_the_end(env):
    stack, dup, clean = env
    fresh(stack, dup)
    eid = "ooo-start-again"
    script_plain("sequence")(stack, dup, eid)
    assert stack.start("t.sequence", None, execution_id=eid) == eid  # a client retrying its request
    dup.drive(stack)
    assert final_state(stack, "sequence", eid) == clean["sequence"][0]
    assert len(dup.find("dispatch")) == 3


# -- the same message again: the acknowledgement was lost ------------------------------------------------

ACK_CASES = [(script, queue) for script in SCRIPTS for queue in ("task", "event")
             if (script, queue) not in {("wf_timeout", "task"), ("cancel", "task")}]  # no dispatch in those


@pytest.mark.parametrize("script,queue", ACK_CASES, ids=[f"{s}-{q}" for s, q in ACK_CASES])
def test_every_message_delivered_twice_with_its_id(env, script, queue):
    """Each message's first delivery is processed but not acknowledged, so SQS hands the same
    message (same id) over again: the advance handler finds its step committed and re-sends the
    step's commands, which deduplication absorbs; the worker runs the attempt again."""
    stack, dup, clean = env
    fresh(stack, dup)
    eid = f"ack-{script}-{queue}"
    with faults.WorkerLog().installed(stack) as log, faults.acks_lost_once(stack, queue) as seen:
        SCRIPTS[script](stack, dup, eid)
    assert seen
    assert final_state(stack, script, eid) == clean[script][0]
    runs = {key: ids for key, ids in log.runs.items() if key.startswith(eid)}
    assert all(len(set(ids)) == 1 for ids in runs.values()), runs  # one message per attempt
    # the worker runs an attempt twice only when its own message came twice, and not even then
    # when the attempt had ended by the redelivery (the claim check finds it finished)
    assert {len(ids) for ids in runs.values()} <= ({1, 2} if queue == "task" else {1}), runs
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    faults.assert_idle(stack)
