"""`relayflow serve` answers while the pump is busy, on the embedded AWS stack and on
the memory backend.

An action holds the pump inside the worker handler (it waits for the test to
say go). Before, one lock serialised pump steps and requests, so a request made
then waited for the whole step; now requests run beside the pump, as API
invocations run beside worker invocations on AWS, and are answered while the
action still holds. The action gives up after a bound, so a regression fails the
test instead of hanging it. (How fast requests are is measured in
bench/serve_latency.py, not asserted here.)
"""
from __future__ import annotations

import threading

import pytest

HELD = threading.Event()  # the action is running
GO = threading.Event()  # the test has its answers: the action may return
HOLD_AT_MOST = 20.0


def hold(payload):
    HELD.set()
    released = GO.wait(HOLD_AT_MOST)
    return {"released": released}


WF = """\
name: r.held
tasks:
  - name: hold
    action: python:tests.api.test_serve_responsive:hold
    with_items: [1, 2]
"""


@pytest.mark.parametrize("backend", ["local_api", "api"])
def test_requests_are_answered_while_a_handler_holds_the_pump(backend, request):
    api = request.getfixturevalue(backend)
    HELD.clear()
    GO.clear()
    api.register(WF)
    eid = api.start("r.held")
    assert HELD.wait(60), "the action never started"
    try:
        # the pump is inside the worker handler now; each of these used to wait for it
        view = api.get(f"/executions/{eid}/graph")
        listed = api.get("/executions?workflow=r.held")
        paused = api.post(f"/executions/{eid}/pause", {"reason": "while busy"})
        answered_while_held = not GO.is_set()
    finally:
        GO.set()
    assert answered_while_held
    assert view.status == 200 and view.body["status"] == "running"
    assert view.body["tasks"][0]["runs"][0]["items"]["running"] >= 1
    assert [e["execution_id"] for e in listed.body["executions"]] == [eid]
    assert paused.status == 202
    api.settle()
    events = api.get(f"/executions/{eid}/history").body["events"]
    assert {"type": "workflow.paused", "reason": "while busy"}.items() <= next(
        e for e in events if e["type"] == "workflow.paused").items()
    if api.execution(eid)["status"] == "paused":  # both items were in flight: they may have ended it already
        api.post(f"/executions/{eid}/resume")
        api.settle()
    done = api.execution(eid)
    assert done["status"] == "succeeded"
    assert done["tasks"][0]["result"] == [{"released": True}, {"released": True}]  # none gave up waiting


def test_a_request_is_served_before_the_pump_calls_queued_ahead_of_it(local_api):
    """A pump call holds moto's lock and another waits for it; a request that asks after both
    gets the lock as soon as the first call ends, before the pump's next one (arrival order
    would make it wait for both)."""
    import time

    from relayflow.local.moto_tuning import MOTO_LOCK

    def wait_for(queue) -> None:
        deadline = time.monotonic() + 20
        while not queue:
            assert time.monotonic() < deadline, "nobody waited for the lock"

    holds: list = []
    MOTO_LOCK.acquire("a long pump call")  # this thread plays the pump's call in progress
    try:
        def pump_call() -> None:
            with MOTO_LOCK:
                pass

        queued = threading.Thread(target=pump_call, name="queued-pump-call", daemon=True)
        queued.start()
        wait_for(MOTO_LOCK._queue)
        answers: list = []
        asking = threading.Thread(target=lambda: answers.append(local_api.get("/executions?limit=1")), daemon=True)
        asking.start()
        wait_for(MOTO_LOCK._urgent_queue)  # the request's first AWS call waits too, behind both
        MOTO_LOCK.holds = holds
    finally:
        MOTO_LOCK.release()
    asking.join(60)
    queued.join(60)
    MOTO_LOCK.holds = None
    assert answers and answers[0].status == 200
    after = [name for _, _, name, label in holds if label != "a long pump call"]
    assert "queued-pump-call" in after
    # the request's waiting call went first; the pump's queued call after it (and, between two
    # calls of the request, the pump may take its turn: it waits for requests, it is not stopped)
    assert after[0].endswith("(process_request_thread)"), after
