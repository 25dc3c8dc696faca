"""`relayflow serve` on the embedded AWS stack answers while the pump is busy.

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


def test_requests_are_answered_while_a_handler_holds_the_pump(local_api):
    api = local_api
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
