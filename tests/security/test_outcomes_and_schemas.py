"""Outcomes can't be forged; schemas are safe. On the memory stack (the same Service and conductor
the API and the embedded stack use); tests/security/test_red_team.py repeats the attacks over HTTP."""
from __future__ import annotations

import re

import pytest

from relayflow.core.messages import AttemptFinished, CallbackReceived
from relayflow.harness import MemoryStack
from relayflow.service import BadRequest, Conflict, NotFound

ASK = """name: o.ask
tasks:
  - name: approve
    action: core.ask
    input: {prompt: ship?, schema: {type: object, required: [ok], properties: {ok: {type: boolean}},
            additionalProperties: false}}
    on_success: done
  - {name: done, action: core.echo, input: {answer: "{{ task.approve.result }}"}}
"""

CALLBACK = """name: o.cb
tasks:
  - name: wait
    action: core.noop
    callback:
      schema: {type: object, required: [build], properties: {build: {type: integer, minimum: 1}}}
    input: {token: "{{ callback.token }}"}
"""


def stack_with(text: str) -> tuple[MemoryStack, str]:
    stack = MemoryStack()
    spec_name = stack.service.register_text(text)["name"]
    eid = stack.start(spec_name)
    stack.drain()
    return stack, eid


def test_tokens_carry_128_random_bits_and_differ_every_time():
    seen = set()
    for _ in range(20):
        stack, eid = stack_with(ASK)
        (inquiry,) = stack.service.list_inquiries("pending")
        secret = inquiry["id"].rsplit("~", 1)[1]
        assert re.fullmatch(r"[0-9a-f]{32}", secret)
        seen.add(secret)
    assert len(seen) == 20


def test_an_ask_cannot_be_answered_through_the_callback_api():
    stack, eid = stack_with(ASK)
    (inquiry,) = stack.service.list_inquiries("pending")
    with pytest.raises(Conflict, match="inquiry"):
        stack.service.callback(inquiry["id"], "succeeded", {"ok": "anything, no schema"})
    stack.pump()
    assert stack.describe(eid)["status"] == "running"
    assert stack.service.get_inquiry(inquiry["id"])["status"] == "pending"


def test_a_forged_event_on_the_queue_cannot_end_an_ask():
    """What a process that can write to the event queue (a declared action gone bad) could try."""
    stack, eid = stack_with(ASK)
    (inquiry,) = stack.service.list_inquiries("pending")
    run = stack.store.get_run(eid, "approve", 1)
    stack.event_queue.send(AttemptFinished(eid, "approve", 1, 0, run.unit.attempt, "succeeded", {"ok": True}))
    stack.event_queue.send(CallbackReceived(eid, inquiry["id"], "succeeded", {"ok": True}))  # via "callback"
    stack.pump()
    assert stack.describe(eid)["status"] == "running"
    assert stack.store.get_run(eid, "approve", 1).status == "running"


def test_the_inquiry_api_checks_the_schema_and_records_who_answered():
    stack, eid = stack_with(ASK)
    (inquiry,) = stack.service.list_inquiries("pending")
    with pytest.raises(BadRequest, match="does not match the inquiry's schema"):
        stack.service.respond(inquiry["id"], {"ok": "yes"}, by="arn:aws:iam::1:user/mallory")
    stack.service.respond(inquiry["id"], {"ok": True}, by="arn:aws:iam::1:user/ana")
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"
    assert stack.service.get_inquiry(inquiry["id"])["answered_by"] == "arn:aws:iam::1:user/ana"
    answered = [e for e in stack.service.history(eid) if e["type"] == "inquiry.answered"]
    assert len(answered) == 1 and answered[0]["by"] == "arn:aws:iam::1:user/ana"


def test_a_callback_result_is_checked_against_the_declared_schema():
    stack, eid = stack_with(CALLBACK)
    token = stack.store.get_run(eid, "wait", 1).unit.token
    for bad in ({"build": 0}, {"build": "7"}, None, {}):
        with pytest.raises(BadRequest, match="callback schema"):
            stack.service.callback(token, "succeeded", bad)
    stack.pump()
    assert stack.describe(eid)["status"] == "running"
    stack.service.callback(token, "succeeded", {"build": 7}, by="ci@example")
    stack.pump()
    assert stack.describe(eid)["status"] == "succeeded"


def test_a_guessed_or_other_executions_token_ends_nothing():
    stack, eid = stack_with(CALLBACK)
    token = stack.store.get_run(eid, "wait", 1).unit.token
    guessed = token.rsplit("~", 1)[0] + "~" + "0" * 32
    stack.service.callback(guessed, "succeeded", {"build": 1})  # accepted at the door, ignored by the conductor
    with pytest.raises(NotFound):
        stack.service.callback("nope~wait~1~0~" + "0" * 32, "succeeded", {"build": 1})
    stack.pump()
    assert stack.describe(eid)["status"] == "running"


@pytest.mark.parametrize("schema, says", [
    ("{type: string, pattern: '^(a+)+$'}", "backtrack catastrophically"),
    ("{type: string, pattern: '(\\w+\\s?)*$'}", "backtrack catastrophically"),
    ("{type: string, pattern: '^(a|aa)+$'}", "backtrack catastrophically"),
    ("{type: string, pattern: '[unclosed'}", "invalid pattern"),
    ("{type: object, patternProperties: {'(x+x+)+y': {}}}", "backtrack catastrophically"),
    ("{$ref: 'http://169.254.169.254/latest/meta-data'}", "only references inside the schema"),
    ("{properties: {a: {$ref: 'file:///etc/passwd'}}}", "only references inside the schema"),
    ("{$id: 'http://evil.example/', type: object}", "identifiers are not allowed"),
    ("{type: strnig}", "does not compile"),
])
def test_an_unsafe_inquiry_schema_is_refused_at_registration_naming_the_task(schema, says):
    text = f"name: s.bad\ntasks:\n  - name: gate\n    action: core.ask\n    input: {{schema: {schema}}}\n"
    stack = MemoryStack()
    with pytest.raises(BadRequest) as info:
        stack.service.register_text(text)
    assert "task gate" in str(info.value)
    (problem,) = info.value.details
    assert problem["task"] == "gate" and problem["field"] == "input.schema" and says in problem["message"]
    assert "s.bad" not in stack.workflows.names()
    cb = f"name: s.cb\ntasks:\n  - name: hook\n    action: core.noop\n    callback: {{schema: {schema}}}\n"
    with pytest.raises(BadRequest, match="task hook"):
        stack.service.register_text(cb)


def test_a_templated_schema_is_checked_safely_when_answered():
    text = ("name: s.tpl\nvars: {s: {type: string, pattern: '^(a+)+$'}}\ntasks:\n"
            "  - {name: gate, action: core.ask, input: {schema: '{{ vars.s }}'}}\n")
    stack, eid = stack_with(text)
    (inquiry,) = stack.service.list_inquiries("pending")
    with pytest.raises(BadRequest, match="the inquiry's schema is invalid: .*backtrack"):
        stack.service.respond(inquiry["id"], "a" * 40 + "!")
    assert stack.service.get_inquiry(inquiry["id"])["status"] == "pending"


def test_matching_a_pattern_the_screen_lets_through_is_bounded_in_time():
    text = ("name: s.slow\ntasks:\n  - name: gate\n    action: core.ask\n"
            "    input: {schema: {type: string, pattern: '^(.*a){20}$'}}\n")
    stack, eid = stack_with(text)
    (inquiry,) = stack.service.list_inquiries("pending")
    with pytest.raises(BadRequest, match="could not be checked .* within|does not match"):
        stack.service.respond(inquiry["id"], "a" * 3000 + "!")
    assert stack.service.get_inquiry(inquiry["id"])["status"] == "pending"
