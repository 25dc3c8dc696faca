"""End to end over HTTP, on both backends of `relayflow serve` (memory twins, and the embedded
AWS stack running the Lambda handlers on moto): approvals, callbacks, pause / resume / cancel,
redrive, idempotent starts and paged listings."""
from __future__ import annotations

import threading

import pytest

from .conftest import serve

APPROVAL = """\
name: f.approval
input:
  image: {type: string, default: "web:1"}
tasks:
  - name: build
    action: core.echo
    input: {image: "{{ input.image }}"}
    on_success: approve
  - name: approve
    action: core.ask
    input:
      prompt: "Deploy {{ task.build.result.image }}?"
      schema: {type: object, properties: {ok: {type: boolean}, by: {type: string}}, required: [ok]}
    next:
      - when: "{{ succeeded() and result().ok }}"
        do: deploy
      - when: "{{ succeeded() and not result().ok }}"
        do: abandon
  - {name: deploy, action: core.echo, input: {image: "{{ task.build.result.image }}", by: "{{ task.approve.result.by }}"}}
  - {name: abandon, action: core.noop}
"""

CALLBACK = """\
name: f.callback
tasks:
  - name: hand_off
    action: python:tests.api.test_flows:hand_off
    callback: true
    timeout: 600
    input: {token: "{{ callback.token }}", ticket: "T-1"}
    on_success: done
    on_failure: recover
  - {name: done, action: core.echo, input: {got: "{{ task.hand_off.result }}"}}
  - {name: recover, action: core.echo, input: {why: "{{ task.hand_off.error.message }}"}}
"""

REDRIVE = """\
name: f.redrive
tasks:
  - {name: a, action: core.echo, input: {n: 1}, on_success: [b, c]}
  - {name: b, action: "python:tests.api.test_flows:flaky", on_success: d}
  - {name: c, action: core.echo, input: {n: 3}, on_success: d}
  - {name: d, join: all, action: core.echo, input: {b: "{{ task.b.result.n }}", c: "{{ task.c.result.n }}"}}
"""

QUICK = """\
name: f.quick
input:
  n: {type: integer, required: true}
tasks:
  - {name: only, action: core.echo, input: {n: "{{ input.n }}"}}
"""

# What the "outside system" of a callback task received, and whether b fails.
HANDED: dict[str, str] = {}
FLAKY = {"fail": True}
_lock = threading.Lock()


def hand_off(payload):
    with _lock:
        HANDED[payload["ticket"] + ":" + payload["token"].split("~")[0]] = payload["token"]
    return {"queued": True}


def flaky(payload):
    if FLAKY["fail"]:
        raise RuntimeError("downstream is down")
    return {"n": 2}


@pytest.fixture(scope="module", params=["memory", "local"])
def api(request):
    yield from serve(request.param)


@pytest.fixture(scope="module", autouse=True)
def _workflows(api):
    for text in (APPROVAL, CALLBACK, REDRIVE, QUICK):
        api.register(text)


def runs(execution):
    return [(t["name"], t["run"], t["status"]) for t in execution["tasks"]]


def test_an_approval_is_pending_until_answered_then_the_next_task_runs(api):
    eid = api.start("f.approval", {"image": "api:7"})
    api.settle()
    assert api.execution(eid)["status"] == "running"
    assert runs(api.execution(eid)) == [("build", 1, "succeeded"), ("approve", 1, "running")]
    (inquiry,) = api.pending(eid)
    assert inquiry["prompt"] == "Deploy api:7?" and inquiry["task"] == "approve"
    # WHEN someone approves
    r = api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True, "by": "ana"}})
    assert r.status == 200
    api.settle()
    # THEN the next task ran with the answer, and the inquiry is closed
    result = api.execution(eid)
    assert result["status"] == "succeeded"
    assert runs(result) == [("build", 1, "succeeded"), ("approve", 1, "succeeded"), ("deploy", 1, "succeeded")]
    assert result["tasks"][2]["result"] == {"image": "api:7", "by": "ana"}
    assert api.pending(eid) == []
    assert api.get(f"/inquiries/{inquiry['id']}").body["status"] == "answered"
    assert api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": False}}).status == 409


def test_a_rejected_approval_takes_the_other_branch(api):
    eid = api.start("f.approval")
    api.settle()
    (inquiry,) = api.pending(eid)
    assert api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": "no"}}).status == 400
    assert api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": False}}).status == 200
    api.settle()
    assert runs(api.execution(eid))[-1] == ("abandon", 1, "succeeded")


def test_a_callback_task_waits_for_its_token_then_succeeds_with_the_result(api):
    eid = api.start("f.callback")
    api.settle()
    assert runs(api.execution(eid)) == [("hand_off", 1, "running")]
    token = HANDED[f"T-1:{eid}"]
    r = api.post(f"/callbacks/{token}/succeed", {"result": {"ticket": "T-1", "state": "done"}})
    assert r.status == 202
    api.settle()
    result = api.execution(eid)
    assert result["status"] == "succeeded"
    assert result["tasks"][0]["result"] == {"ticket": "T-1", "state": "done"}
    assert result["tasks"][1]["result"] == {"got": {"ticket": "T-1", "state": "done"}}
    # a late or repeated callback changes nothing
    assert api.post(f"/callbacks/{token}/fail", {"error": "too late"}).status == 202
    api.settle()
    assert api.execution(eid) == result


def test_a_failed_callback_fails_the_task_and_its_handler_runs(api):
    eid = api.start("f.callback")
    api.settle()
    token = HANDED[f"T-1:{eid}"]
    assert api.post(f"/callbacks/{token}/fail", {"error": {"type": "Rejected", "message": "no capacity"}}).status == 202
    api.settle()
    result = api.execution(eid)
    assert runs(result) == [("hand_off", 1, "failed"), ("recover", 1, "succeeded")]
    assert result["tasks"][0]["error"] == {"type": "Rejected", "message": "no capacity"}
    assert result["tasks"][1]["result"] == {"why": "no capacity"}


def test_pause_holds_the_next_task_until_resume(api):
    eid = api.start("f.approval")
    api.settle()
    assert api.post(f"/executions/{eid}/pause", {"reason": "freeze"}).status == 202
    api.settle()
    assert api.execution(eid)["status"] == "paused"
    (inquiry,) = api.pending(eid)
    assert api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True, "by": "ops"}}).status == 200
    api.settle()
    paused = api.execution(eid)
    assert paused["status"] == "paused"
    assert ("deploy", 1, "succeeded") not in runs(paused)  # held while paused
    assert api.post(f"/executions/{eid}/resume").status == 202
    api.settle()
    assert api.execution(eid)["status"] == "succeeded"
    types = [(e["type"], e.get("task")) for e in api.get(f"/executions/{eid}/history").body["events"]]
    assert types.index(("workflow.paused", None)) < types.index(("workflow.resumed", None)) \
        < types.index(("task.started", "deploy"))


def test_cancel_ends_the_execution_and_closes_its_inquiry(api):
    eid = api.start("f.approval")
    api.settle()
    (inquiry,) = api.pending(eid)
    assert api.post(f"/executions/{eid}/cancel", {"reason": "no longer needed"}).status == 202
    api.settle()
    assert api.execution(eid)["status"] == "cancelled"
    assert api.get(f"/inquiries/{inquiry['id']}").body["status"] == "cancelled"
    assert api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True}}).status == 409
    assert api.post(f"/executions/{eid}/resume").status == 409


def test_redrive_reruns_the_failed_run_and_keeps_what_succeeded(api):
    FLAKY["fail"] = True
    eid = api.start("f.redrive")
    api.settle()
    failed = api.execution(eid)
    assert failed["status"] == "failed"
    assert ("b", 1, "failed") in runs(failed) and ("c", 1, "succeeded") in runs(failed)
    FLAKY["fail"] = False
    r = api.post(f"/executions/{eid}/redrive")
    assert (r.status, r.body) == (202, {"execution_id": eid, "requested": "redrive"})
    api.settle()
    result = api.execution(eid)
    assert result["status"] == "succeeded", result["error"]
    assert runs(result) == [("a", 1, "succeeded"), ("b", 1, "failed"), ("c", 1, "succeeded"),
                            ("b", 2, "succeeded"), ("d", 1, "succeeded")]
    assert result["tasks"][-1]["result"] == {"b": 2, "c": 3}
    assert api.post(f"/executions/{eid}/redrive").status == 409


def test_idempotent_start_and_paged_listing(api):
    key = {"Idempotency-Key": f"quick-{id(api)}"}
    first = api.post("/workflows/f.quick/executions", {"input": {"n": 1}}, headers=key)
    again = api.post("/workflows/f.quick/executions", {"input": {"n": 1}}, headers=key)
    assert (first.status, again.status) == (201, 200)
    assert first.body["execution_id"] == again.body["execution_id"]
    assert api.post("/workflows/f.quick/executions", {"input": {"n": 2}}, headers=key).status == 409
    others = [api.start("f.quick", {"n": n}) for n in range(3, 7)]
    api.settle()
    seen, token = [], None
    while True:
        page = api.get("/executions?workflow=f.quick&status=succeeded&limit=2"
                       + (f"&next={token}" if token else "")).body
        assert len(page["executions"]) <= 2
        seen += [e["execution_id"] for e in page["executions"]]
        token = page["next"]
        if not token:
            break
    assert sorted(seen) == sorted(others + [first.body["execution_id"]])


def test_a_forged_next_token_is_a_400(api):
    # A cursor the API did not write is refused before it reaches a DynamoDB key condition
    # (sort keys are at most 1024 bytes; moto does not enforce that, so this is about the check).
    import base64
    import json as _json

    for cursor in ({"w": "f.quick", "b": "9" * 2000, "s": None, "a": False},
                   {"w": "x" * 1000, "b": None, "s": None, "a": True},
                   {"w": "f.quick", "b": "\u00e9" * 10, "s": None, "a": False}):
        token = base64.urlsafe_b64encode(_json.dumps(cursor).encode()).decode().rstrip("=")
        query = "workflow=f.quick&" if not cursor["a"] else ""
        r = api.get(f"/executions?{query}next={token}")
        assert r.status == 400 and "not a token" in r.body["message"], r.body


def test_a_large_definition_can_be_registered_and_read_back(api):
    from relayflow.core.loader import load_text

    text = "name: f.big\ntasks:\n" + "".join(
        f"  - {{name: t{i}, action: core.echo, input: {{pad: '{'x' * 10_000}'}}}}\n" for i in range(50))
    spec = load_text(text)  # a valid 500 KB definition
    stack = api.server.stack
    with api.server.lock:
        stack.register(spec)
        if hasattr(stack, "runtime"):  # the embedded AWS stack: read it back from the table and the bucket
            stack.runtime.workflows._cache.clear()
            workflows = stack.runtime.workflows
        else:  # the memory backend keeps definitions in a dict
            workflows = stack.workflows
        assert workflows.get("f.big").text == text
