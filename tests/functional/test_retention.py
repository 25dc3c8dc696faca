"""Retention: an execution's records expire only after it finishes, all together.

DynamoDB's TTL deletes an item some time after its ``expires_at``; an execution
that waits (an approval, a long sleep) longer than the retention must keep every
record, and a finished one must leave nothing behind that expires later or never.
The one exception is a worker's claim of an attempt that waits for nothing: it
matters only while its attempt runs (minutes), so it expires by itself, the
retention after the claim, and the sweep leaves it alone.
"""
from __future__ import annotations

from typing import Any

from relayflow.core.loader import load_text

from . import faults

APPROVAL = """
name: r.approval
tasks:
  - {name: prepare, action: core.echo, input: {v: 1}, on_success: approve}
  - name: approve
    action: core.ask
    input: {prompt: "Go?"}
    on_success: ship
  - {name: ship, action: core.echo, input: {v: 2}}
output: {answer: "{{ task.approve.result }}"}
"""
DAY = 86_400


def partition(stack: Any, eid: str) -> dict[str, Any]:
    """sort key -> expires_at (epoch seconds or None) of every item of the execution."""
    out = {}
    ddb = stack.runtime.model._get_connection().connection.client
    pages = ddb.get_paginator("query").paginate(
        TableName=stack.settings.table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"EXEC#{eid}"}}, ConsistentRead=True)
    for page in pages:
        for item in page["Items"]:
            out[item["sk"]["S"]] = int(item["expires_at"]["N"]) if "expires_at" in item else None
    return out


def test_records_of_a_waiting_execution_never_expire_and_expire_together_after_it_ends(local):
    stack = local
    faults.fresh_case(stack)
    stack.register(load_text(APPROVAL, "approval.yaml"))
    retention = stack.runtime.store.retention
    eid = stack.start("r.approval", None, execution_id="retention-approval")
    stack.pump()
    (inquiry,) = [i for i in stack.service.list_inquiries("pending") if i["execution_id"] == eid]
    waiting = partition(stack, eid)
    assert {"HEAD", "IDX", "STEP"} <= set(waiting)
    assert any(sk.startswith("RUN#") for sk in waiting) and any(sk.startswith("CLAIM#") for sk in waiting)
    claims = {sk: at for sk, at in waiting.items() if sk.startswith("CLAIM#")}
    # nothing of a running execution expires, but the claims of attempts that waited for nothing
    assert {sk: at for sk, at in waiting.items() if sk not in claims} == dict.fromkeys(set(waiting) - set(claims))
    assert claims and all(at is not None and stack.clock.now() < at <= stack.clock.now() + retention
                          for at in claims.values())

    stack.clock.advance_to(stack.clock.now() + retention + 10 * DAY)  # the approval waits past the retention
    stack.service.respond(inquiry["id"], {"ok": True})
    stack.pump()
    result = stack.describe(eid)
    assert result["status"] == "succeeded"
    assert result["output"] == {"answer": {"ok": True}}
    head = stack.runtime.store.get_execution(eid)
    ended = partition(stack, eid)
    assert set(waiting) <= set(ended)
    # every record, one moment; the claims, theirs (earlier: no claim outlives its execution)
    later = {sk for sk in ended if sk.startswith("CLAIM#") and ended[sk] != int(head.finished_at) + retention}
    assert later == set(claims) and all(ended[sk] == claims[sk] < int(head.finished_at) for sk in later)
    assert {sk: at for sk, at in ended.items() if sk not in later} == dict.fromkeys(set(ended) - later,
                                                                                    int(head.finished_at) + retention)
    faults.assert_idle(stack)


ONE_STEP = """
name: r.one_step
tasks:
  - {name: a, action: core.echo, local: true, input: {v: 1}, on_success: b}
  - {name: b, action: core.echo, local: true, input: {v: "{{ task.a.result.v + 1 }}"}}
output: {v: "{{ task.b.result.v }}"}
"""


def test_an_execution_that_begins_and_ends_in_one_step_is_not_swept(local):
    """Its start step ran everything (local actions) and wrote every record it has with the
    head's expiry: no sweep message is sent or paid for, and nothing is left without expiry."""
    import botocore.client

    stack = local
    faults.fresh_case(stack)
    stack.register(load_text(ONE_STEP, "one_step.yaml"))
    sent: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "SendMessage":
            sent.append(params["MessageBody"])
        elif operation == "SendMessageBatch":
            sent.extend(entry["MessageBody"] for entry in params["Entries"])
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
    try:
        eid = stack.start("r.one_step", None, execution_id="retention-one-step")
        stack.pump()
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    result = stack.describe(eid)
    assert result["status"] == "succeeded" and result["output"] == {"v": 2}
    assert sent and not [body for body in sent if '"sweep"' in body], sent
    head = stack.runtime.store.get_execution(eid)
    records = partition(stack, eid)
    assert {"HEAD", "IDX", "STEP", "RUN#a#000001", "RUN#b#000001"} <= set(records), records
    assert records == dict.fromkeys(records, int(head.finished_at) + stack.runtime.store.retention)
    faults.assert_idle(stack)
