"""Approvals (core.ask), callback tasks and redrive, driven through the Service as the API does."""
import pytest

from relayflow.actions.allowlist import ActionModules
from relayflow.actions.builtin import default_registry
from relayflow.core.loader import load_text
from relayflow.harness import MemoryStack
from relayflow.service import BadRequest, Conflict, NotFound

APPROVAL = """
name: p.approval
tasks:
  - name: build
    action: core.echo
    input: {image: web:1}
    on_success: approve
  - name: approve
    action: core.ask
    input:
      prompt: "Deploy {{ task.build.result.image }}?"
      schema: {type: object, properties: {ok: {type: boolean}}, required: [ok]}
    timeout: 3600
    next:
      - when: "{{ succeeded() and result().ok }}"
        do: deploy
      - when: "{{ succeeded() and not result().ok }}"
        do: abandon
      - when: "{{ timed_out() }}"
        do: abandon
  - {name: deploy, action: core.echo, input: {approved_by: "{{ task.approve.result.by }}"}}
  - {name: abandon, action: core.noop}
"""

CALLBACK = """
name: p.callback
tasks:
  - name: hand_off
    action: core.echo
    callback: true
    timeout: 600
    input: {token: "{{ callback.token }}"}
    on_success: done
    on_failure: recover
  - {name: done, action: core.echo, input: {got: "{{ task.hand_off.result }}"}}
  - {name: recover, action: core.noop}
"""


def stack_with(*texts):
    stack = MemoryStack(default_registry(ActionModules(["tests.scenarios.test_people"])), seed=0)
    for text in texts:
        stack.register(load_text(text))
    return stack


def test_an_approval_waits_pending_until_answered_then_the_next_task_runs():
    stack = stack_with(APPROVAL)
    eid = stack.start("p.approval")
    stack.drain()
    assert stack.describe(eid)["status"] == "running"
    pending = stack.service.list_inquiries("pending")
    assert [i["task"] for i in pending] == ["approve"]
    assert pending[0]["prompt"] == "Deploy web:1?"
    stack.service.respond(pending[0]["id"], {"ok": True, "by": "ana"})
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "succeeded"
    assert [(t["name"], t["status"]) for t in result["tasks"]] == [
        ("build", "succeeded"), ("approve", "succeeded"), ("deploy", "succeeded")]
    assert result["tasks"][2]["result"] == {"approved_by": "ana"}
    assert stack.service.list_inquiries("pending") == []
    assert stack.service.list_inquiries("answered")[0]["response"] == {"ok": True, "by": "ana"}


def test_a_second_answer_is_a_conflict_and_changes_nothing():
    stack = stack_with(APPROVAL)
    stack.start("p.approval")
    stack.drain()
    inquiry = stack.service.list_inquiries("pending")[0]["id"]
    stack.service.respond(inquiry, {"ok": False})
    with pytest.raises(Conflict):
        stack.service.respond(inquiry, {"ok": True})
    stack.pump()
    assert [i["response"] for i in stack.service.list_inquiries("answered")] == [{"ok": False}]


def test_an_answer_that_does_not_match_the_schema_is_refused_and_the_inquiry_stays_pending():
    stack = stack_with(APPROVAL)
    stack.start("p.approval")
    stack.drain()
    inquiry = stack.service.list_inquiries("pending")[0]["id"]
    with pytest.raises(BadRequest, match="schema"):
        stack.service.respond(inquiry, {"ok": "yes"})
    assert stack.service.list_inquiries("pending")[0]["id"] == inquiry


def test_an_unanswered_approval_times_out_and_its_inquiry_closes():
    stack = stack_with(APPROVAL)
    eid = stack.start("p.approval")
    stack.pump()  # nobody answers: the virtual clock reaches the timeout
    result = stack.describe(eid)
    assert result["status"] == "succeeded"
    assert [(t["name"], t["status"]) for t in result["tasks"]] == [
        ("build", "succeeded"), ("approve", "timed_out"), ("abandon", "succeeded")]
    assert [i["status"] for i in stack.service.list_inquiries()] == ["timed_out"]
    with pytest.raises(Conflict):
        stack.service.respond(stack.service.list_inquiries()[0]["id"], {"ok": True})


def test_a_callback_task_completes_with_the_result_sent_to_its_token():
    stack = stack_with(CALLBACK)
    eid = stack.start("p.callback")
    stack.drain()
    token = stack.describe(eid)["tasks"][0]
    assert token["status"] == "running"
    sent = stack.store.get_run(eid, "hand_off", 1).unit.token
    stack.service.callback(sent, "succeeded", {"ticket": 42})
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "succeeded"
    assert result["tasks"][0]["result"] == {"ticket": 42}
    assert result["tasks"][1]["result"] == {"got": {"ticket": 42}}


def test_a_callback_failure_fails_the_task_and_its_handler_runs():
    stack = stack_with(CALLBACK)
    eid = stack.start("p.callback")
    stack.drain()
    token = stack.store.get_run(eid, "hand_off", 1).unit.token
    stack.service.callback(token, "failed", error={"type": "Rejected", "message": "no capacity"})
    stack.pump()
    result = stack.describe(eid)
    assert [(t["name"], t["status"]) for t in result["tasks"]] == [("hand_off", "failed"), ("recover", "succeeded")]
    assert result["tasks"][0]["error"] == {"type": "Rejected", "message": "no capacity"}


def test_an_unknown_or_forged_token_is_not_found_or_ignored():
    stack = stack_with(CALLBACK)
    eid = stack.start("p.callback")
    stack.drain()
    with pytest.raises(NotFound):
        stack.service.callback("not-a-token", "succeeded")
    real = stack.store.get_run(eid, "hand_off", 1).unit.token
    forged = real[:-4] + "0000"
    stack.service.callback(forged, "succeeded", {"evil": True})
    stack.drain()
    assert stack.describe(eid)["tasks"][0]["status"] == "running"


REDRIVE = """
name: p.redrive
input: {fixed: {type: boolean, default: false}}
tasks:
  - {name: a, action: core.echo, input: {n: 1}, on_success: [b, c]}
  - name: b
    action: python:tests.scenarios.test_people:flaky
    on_success: d
  - {name: c, action: core.echo, input: {n: 3}, on_success: d}
  - {name: d, join: all, action: core.noop}
"""

FLAKY = {"fail": True}


def flaky(payload):
    if FLAKY["fail"]:
        raise RuntimeError("downstream is down")
    return {"n": 2}


def test_redrive_reruns_the_failed_run_and_keeps_what_succeeded():
    stack = stack_with(REDRIVE)
    FLAKY["fail"] = True
    eid = stack.start("p.redrive")
    stack.pump()
    assert stack.describe(eid)["status"] == "failed"
    with pytest.raises(Conflict):
        stack.service.control(eid, "pause")
    FLAKY["fail"] = False
    stack.service.redrive(eid)
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "succeeded", result["error"]
    assert [(t["name"], t["run"], t["status"]) for t in result["tasks"]] == [
        ("a", 1, "succeeded"), ("b", 1, "failed"), ("c", 1, "succeeded"), ("b", 2, "succeeded"),
        ("d", 1, "succeeded")]
    with pytest.raises(Conflict):
        stack.service.redrive(eid)


DEAD_JOIN = """
name: p.dead_join
tasks:
  - {name: a, action: "python:tests.scenarios.test_people:flaky", on_failure: handle}
  - {name: b, action: core.noop, on_failure: handle}
  - {name: handle, join: all, action: core.noop}
"""


def test_a_failure_lost_in_a_dead_join_fails_the_workflow_and_a_redrive_reruns_it():
    stack = stack_with(DEAD_JOIN)
    FLAKY["fail"] = True
    eid = stack.start("p.dead_join")
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "failed"
    assert result["error"] == {"task": "a", "type": "RuntimeError", "message": "downstream is down"}
    FLAKY["fail"] = False
    stack.service.redrive(eid)
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "succeeded", result["error"]
    assert [(t["name"], t["run"], t["status"]) for t in result["tasks"]] == [
        ("a", 1, "failed"), ("b", 1, "succeeded"), ("handle", 1, "skipped"), ("a", 2, "succeeded")]


HEALTH = {"ok": False}


def health(payload):
    return {"ok": HEALTH["ok"]}


DO_FAIL = """
name: p.do_fail
tasks:
  - name: check
    action: "python:tests.scenarios.test_people:health"
    next:
      - {when: "{{ not result().ok }}", do: fail}
      - {when: "{{ result().ok }}", do: deploy}
  - {name: deploy, action: core.noop}
"""


def test_a_redrive_after_do_fail_runs_the_task_that_said_fail_again():
    stack = stack_with(DO_FAIL)
    HEALTH["ok"] = False
    eid = stack.start("p.do_fail")
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "Failed" and result["error"]["task"] == "check"
    HEALTH["ok"] = True
    stack.service.redrive(eid)
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "succeeded", result["error"]
    assert [(t["name"], t["run"], t["status"]) for t in result["tasks"]] == [
        ("check", 1, "succeeded"), ("check", 2, "succeeded"), ("deploy", 1, "succeeded")]


def test_history_lists_every_lifecycle_event_in_order():
    stack = stack_with(CALLBACK)
    eid = stack.start("p.callback")
    stack.drain()
    stack.service.callback(stack.store.get_run(eid, "hand_off", 1).unit.token, "succeeded", {}, by="ops@example")
    stack.pump()
    history = stack.service.history(eid)
    types = [(e["type"], e.get("task")) for e in history]
    assert types == [("workflow.started", None), ("task.started", "hand_off"), ("task.callback", "hand_off"),
                     ("task.succeeded", "hand_off"), ("task.started", "done"), ("task.succeeded", "done"),
                     ("workflow.succeeded", None)]
    assert history[2]["by"] == "ops@example"  # who used the token is kept


def test_a_callback_action_is_handed_the_token_that_completes_its_task():
    handed: list[str | None] = []

    def hand_off(payload, ctx):
        handed.append(ctx.callback_token)
        return {"queued": True}

    registry = default_registry()
    registry.register("ops.hand_off", hand_off)
    stack = MemoryStack(registry=registry, seed=0)
    stack.register(load_text("""
name: p.callback_context
tasks:
  - {name: hand_off, action: ops.hand_off, callback: true}
""", "wf.yaml"))
    eid = stack.start("p.callback_context")
    stack.drain()
    assert handed and handed[0] == stack.store.get_run(eid, "hand_off", 1).unit.token
    stack.service.callback(handed[0], "succeeded", {"ticket": 7})
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
