"""Least privilege, measured: every AWS call a handler makes is allowed by its function's role.

The handlers run on the embedded stack (moto and the pump) through a workflow that uses every
part of the engine that touches AWS: a large input (S3), a timer and a retry delay
(Scheduler), a timeout cancelled when its task ends, ``with_items``, a nested workflow, an
approval and a callback answered through the API handler, ``aws.lambda``, pause, resume,
cancel and redrive, the lifecycle bus and the reconciler (re-sending a lost start). Each botocore call is recorded
with the function it was made by (the handler's own thread, or the pump standing in for the
SQS event source mapping, which polls with the function's role), turned into the IAM actions
and resource ARNs AWS authorizes it against, and checked against the role in the *translated*
template, its intrinsics resolved to the embedded stack's names.

So a handler that starts making a new call without a permission fails here, and a permission
no handler uses fails here too (``UNEXERCISED`` names the few a run cannot reach, and why).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from relayflow.actions.allowlist import ActionModules
from relayflow.actions.aws_lambda import boto3_invoker, register_lambda_action
from relayflow.actions.builtin import default_registry
from relayflow.local import resources as R

from .roles import FUNCTIONS, Names, Recorder, allowed_by, authorizations, denied, role_statements, translated_template

# Granted but not reached by this run, each with the reason. Anything else granted and unused
# is a permission too many.
UNEXERCISED: dict[tuple[str, str, str], str] = {
    # The Lambda service calls this for the mapping; the pump reads messages with
    # ReceiveMessage and deletes them, but never asks for the queue's attributes.
    ("WorkerFunction", "PollTaskQueue", "sqs:GetQueueAttributes"): "the event source mapping reads the queue's attributes",
    ("AdvanceFunction", "PollEventQueue", "sqs:GetQueueAttributes"): "the event source mapping reads the queue's attributes",
    # Only when a step lost its turn or crashed half-way (tests/functional/test_crash.py).
    ("AdvanceFunction", "StateItems", "dynamodb:DeleteItem"): "undoes the writes of a step that did not commit",
    # A definition too large for its item is read from S3; here every function shares the
    # process's cache of definitions, filled when the API registered them.
    ("StartFunction", "Payloads", "s3:GetObject"): "reads only a definition too large for its item",
    # The reconciler keeps a cursor only when a run ends short of time, and reads an execution's
    # runs only when it is past its deadline (tests/functional/test_reconcile_local.py,
    # tests/scenarios/test_reconciler.py); this run's reconciler finishes within its time and
    # finds only an execution that never started.
    ("ReconcileFunction", "KeepCursor", "dynamodb:PutItem"): "written only by a run that ends short of time",
    ("ReconcileFunction", "ReadHeads", "dynamodb:Query"): "reads the runs of an execution past its deadline",
}
for _fn in FUNCTIONS:  # Lambda's runtime writes the logs, not the handler's code
    UNEXERCISED[(_fn, "OwnLogs", "logs:CreateLogStream")] = "written by the Lambda runtime"
    UNEXERCISED[(_fn, "OwnLogs", "logs:PutLogEvents")] = "written by the Lambda runtime"

MAIN = """\
name: cov.main
input:
  blob: {type: string, required: true}
tasks:
  - name: big
    action: core.echo
    input: {size: "{{ input.blob | length }}", blob: "{{ input.blob }}"}
    on_success: nap
  - name: nap
    action: core.sleep
    input: {seconds: 2}
    on_success: retry
  - name: retry
    action: core.fail
    input: {succeed_on_attempt: 2, message: planned}
    retry: {count: 1, delay: 1}
    timeout: 600
    on_success: items
  - name: items
    action: core.echo
    with_items: "{{ [1, 2, 3] }}"
    concurrency: 2
    input: {n: "{{ item }}"}
    on_success: child
  - name: child
    workflow: cov.child
    input: {x: 2}
    on_success: call
  - name: call
    action: aws.lambda
    input: {function: relayflow-local-action-missing, payload: {}}
    on_success: approve
    on_failure: approve
  - name: approve
    action: core.ask
    input:
      prompt: go?
      schema: {type: object, properties: {ok: {type: boolean}}, required: [ok]}
    on_success: hand_off
  - name: hand_off
    action: python:tests.infra.test_role_coverage:hand_off
    callback: true
    input: {token: "{{ callback.token }}"}
"""

CHILD = """\
name: cov.child
input:
  x: {type: integer, required: true}
tasks:
  - {name: double, action: core.echo, input: {y: "{{ input.x * 2 }}"}}
"""

FLAKY = """\
name: cov.flaky
tasks:
  - {name: once, action: "python:tests.infra.test_role_coverage:flaky"}
"""

WAITING = """\
name: cov.waiting
tasks:
  - name: wait
    action: core.ask
    input: {prompt: hold, schema: {type: object}}
    on_success: after
  - {name: after, action: core.noop}
"""

HANDED: list[str] = []
FLAKY_STATE = {"fail": True}


def hand_off(payload: dict[str, Any]) -> dict[str, Any]:
    HANDED.append(payload["token"])
    return {"queued": True}


def flaky(payload: Any) -> dict[str, Any]:
    if FLAKY_STATE["fail"]:
        raise RuntimeError("down")
    return {"ok": True}


# -------------------------------------------------------------- the template's roles --
@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translated_template()


# ------------------------------------------------------------------ the functional run --
@pytest.fixture(scope="module")
def run(translated) -> Iterator[tuple[Any, Recorder]]:
    from relayflow.local.stack import EmbeddedStack
    from relayflow.serve import to_event

    recorder = Recorder()
    registry = default_registry(ActionModules(["tests.infra.test_role_coverage"]))
    with EmbeddedStack(registry=registry) as stack:  # (it sets the environment the handlers' modules read)
        import boto3

        from functions.api import app as api_app
        from functions.reconcile import app as reconcile_app
        # aws.lambda through boto3, as deployed (the stack's default is in-process functions)
        register_lambda_action(registry, boto3_invoker(boto3.session.Session(region_name=R.REGION).client("lambda")))
        recorder.attach(stack)
        api_app.set_service(stack.service)
        api_handler = recorder.as_function("ApiFunction", api_app.handler)
        reconcile = recorder.as_function("ReconcileFunction", reconcile_app.handler)

        def api(method: str, path: str, body: Any = None, raw: str | None = None) -> dict[str, Any]:
            data = raw.encode() if raw is not None else (json.dumps(body).encode() if body is not None else b"")
            ctype = "application/yaml" if raw is not None else "application/json"
            event = to_event(method, path, [("Host", "api"), ("Content-Type", ctype)], data, "127.0.0.1")
            resp = api_handler(event, _Context())
            return {"status": resp["statusCode"], "body": json.loads(resp["body"]) if resp.get("body") else None}

        try:
            for text in (CHILD, MAIN, FLAKY, WAITING):
                name = text.split("\n", 1)[0].split(": ", 1)[1]
                r = api("PUT", f"/workflows/{name}", raw=text)
                assert r["status"] == 200, r
            # the main run: started by StartFunction with an input too large for an item
            eid = stack.start("cov.main", {"blob": "x" * 500_000})
            stack.pump()
            (inquiry,) = [i for i in api("GET", "/inquiries?status=pending")["body"]["inquiries"]
                          if i["execution_id"] == eid]
            assert api("POST", f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True}})["status"] == 200
            stack.pump()
            (token,) = HANDED
            assert api("POST", f"/callbacks/{token}/succeed", {"result": {"done": 1}})["status"] == 202
            stack.pump()
            main = api("GET", f"/executions/{eid}")["body"]
            assert main["status"] == "succeeded", main
            ran = {t["name"]: t["status"] for t in main["tasks"]}
            assert ran["call"] == "failed" and ran["hand_off"] == "succeeded", ran
            for path in (f"/executions/{eid}/history", f"/executions/{eid}/graph", "/workflows",
                         "/workflows/cov.main", "/executions?workflow=cov.main", f"/executions/{eid}/runs/big/1"):
                assert api("GET", path)["status"] == 200, path
            # started through the API with an input too large for an item: it waits for an answer
            big = api("POST", "/workflows/cov.waiting/executions", {"input": {"blob": "y" * 300_000}})
            assert big["status"] == 201, big
            # control: started through the API, paused, resumed, cancelled
            wid = api("POST", "/workflows/cov.waiting/executions", {"input": {}})["body"]["execution_id"]
            stack.pump()
            for action in ("pause", "resume", "cancel"):
                assert api("POST", f"/executions/{wid}/{action}", {"reason": "test"})["status"] == 202, action
                stack.pump()
            assert api("GET", f"/executions/{wid}")["body"]["status"] == "cancelled"
            # redrive a failed execution
            fid = api("POST", "/workflows/cov.flaky/executions", {})["body"]["execution_id"]
            stack.pump()
            assert api("GET", f"/executions/{fid}")["body"]["status"] == "failed"
            FLAKY_STATE["fail"] = False
            assert api("POST", f"/executions/{fid}/redrive", {})["status"] == 202
            stack.pump()
            assert api("GET", f"/executions/{fid}")["body"]["status"] == "succeeded"
            # nothing is due: the reconciler reads its index of deadlines, not one head
            assert reconcile({}, _Context())["checked"] == 0
            # a start whose message was lost (never delivered): past its deadline, the reconciler
            # reads its head (too large for its item: from the bucket) and re-sends its start
            lost = stack.start("cov.waiting", {"blob": "z" * 300_000})
            stack.clock.advance_to(stack.clock.now() + 400)  # past the start's grace (300 s)
            found = reconcile({}, _Context())
            assert found["stuck"] >= 1, found
            stack.pump()
            assert api("GET", f"/executions/{lost}")["body"]["status"] == "running"
            yield stack, recorder
        finally:
            api_app.set_service(None)


class _Context:
    function_name = "relayflow-coverage"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = f"arn:aws:lambda:{R.REGION}:{R.ACCOUNT}:function:relayflow-coverage"
    aws_request_id = "coverage"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# ------------------------------------------------------------------------------ tests --
def checked(translated: dict[str, Any], run: tuple[Any, Recorder]) -> tuple[list[str], set[tuple[str, str, str]]]:
    """(denied calls, the (function, statement, action) triples some call used)."""
    stack, recorder = run
    return denied(translated, stack, recorder)


def test_the_run_reached_every_function(run):
    _, recorder = run
    assert {fn for fn, *_ in recorder.calls} == set(FUNCTIONS)


def test_every_call_a_handler_makes_is_allowed_by_its_role(translated, run):
    denied, _ = checked(translated, run)
    assert not denied, "calls the deployed role would refuse:\n  " + "\n  ".join(sorted(set(denied)))


def test_every_permission_is_used_by_some_call(translated, run):
    stack, _ = run
    _, used = checked(translated, run)
    names = Names(stack)
    granted = {(fn, st["Sid"], action) for fn in FUNCTIONS
               for st in role_statements(translated, fn, names) for action in st["Action"]}
    unused = granted - used
    assert unused == set(UNEXERCISED), (
        f"granted but never used: {sorted(unused - set(UNEXERCISED))}; "
        f"used now, drop from UNEXERCISED: {sorted(set(UNEXERCISED) - unused)}")


def test_a_missing_permission_is_caught(translated, run):
    # GIVEN the worker's role without its permission to report outcomes
    stack, recorder = run
    names = Names(stack)
    worker = [st for st in role_statements(translated, "WorkerFunction", names) if st["Sid"] != "SendOutcomes"]
    # THEN the worker's SendMessage calls of the run are refused by it
    sends = [(s, o, p) for fn, s, o, p in recorder.calls if fn == "WorkerFunction" and o == "SendMessage"]
    assert sends
    for service, op, params in sends:
        ((action, resource, context),) = authorizations(service, op, params)
        assert allowed_by(worker, action, resource, context) is None


def test_another_stacks_queue_or_a_wider_prefix_is_refused(translated, run):
    stack, _ = run
    names = Names(stack)
    advance = role_statements(translated, "AdvanceFunction", names)
    other = f"arn:aws:sqs:{R.REGION}:{R.ACCOUNT}:other-stack-tasks.fifo"
    assert allowed_by(advance, "sqs:SendMessage", other, {}) is None
    assert allowed_by(advance, "sqs:ReceiveMessage", other, {}) is None
    assert allowed_by(advance, "s3:PutObject", f"arn:aws:s3:::{R.BUCKET}/elsewhere/x", {}) is None
    assert allowed_by(advance, "iam:PassRole", stack.settings.scheduler_role_arn,
                      {"iam:PassedToService": "lambda.amazonaws.com"}) is None
    worker = role_statements(translated, "WorkerFunction", names)
    assert allowed_by(worker, "lambda:InvokeFunction",
                      f"arn:aws:lambda:{R.REGION}:{R.ACCOUNT}:function:other-stack-action-x", {}) is None
    # a function of the stack's own name in another account or region: the code checks only the
    # name's prefix, the role refuses it
    for elsewhere in (f"arn:aws:lambda:{R.REGION}:999999999999:function:{R.STACK}-action-x",
                      f"arn:aws:lambda:eu-west-1:{R.ACCOUNT}:function:{R.STACK}-action-x"):
        assert allowed_by(worker, "lambda:InvokeFunction", elsewhere, {}) is None
    assert allowed_by(worker, "lambda:InvokeFunction",
                      f"arn:aws:lambda:{R.REGION}:{R.ACCOUNT}:function:{R.STACK}-action-x", {}) == "InvokeActionFunctions"
