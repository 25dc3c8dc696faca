"""The function roles of template.yaml, as IAM would apply them to the embedded stack's calls.

``Recorder.attach`` tags every botocore call the embedded stack's handlers make with the
function that made it (the pump's receive and delete count as the function's SQS event source
mapping, which polls with the function's role); ``denied`` maps each call to the IAM actions
and resource ARNs AWS authorizes it against (Service Authorization Reference) and checks them
against the role in the translated template, its intrinsics resolved to the embedded stack's
names. Used by tests/infra/test_role_coverage.py and by the functional tests' stack.
"""
from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relayflow.local import resources as R

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("StartFunction", "WorkerFunction", "AdvanceFunction", "ApiFunction", "ReconcileFunction")
ESM = {"task": "WorkerFunction", "event": "AdvanceFunction"}  # queue -> the function its mapping feeds


@functools.lru_cache(maxsize=1)
def translated_template() -> dict[str, Any]:
    """template.yaml as SAM translates it (offline, infra/scripts/lint_template.py's translation)."""
    spec = importlib.util.spec_from_file_location("relayflow_lint_template_roles", REPO / "infra/scripts/lint_template.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        return module.translate(module.load_template(REPO / "template.yaml"))
    finally:
        sys.modules.pop(spec.name, None)


class Names:
    """The embedded stack's values for the template's Ref / GetAtt / Sub."""

    def __init__(self, stack: Any):
        arn = f"arn:aws:%s:{R.REGION}:{R.ACCOUNT}:%s"
        self.pseudo = {"AWS::Partition": "aws", "AWS::Region": R.REGION, "AWS::AccountId": R.ACCOUNT,
                       "AWS::StackName": R.STACK, "AWS::URLSuffix": "amazonaws.com"}
        self.refs = {"ScheduleGroup": R.SCHEDULE_GROUP, "StateTable": R.TABLE, "PayloadBucket": R.BUCKET}
        self.arns = {
            "StateTable": arn % ("dynamodb", f"table/{R.TABLE}"),
            "TaskQueue": stack.queue_arns["task"], "EventQueue": stack.queue_arns["event"],
            "PayloadBucket": f"arn:aws:s3:::{R.BUCKET}",
            "SchedulerRole": stack.settings.scheduler_role_arn,
            "EventBus": arn % ("events", f"event-bus/{R.EVENT_BUS}"),
            **{f"{fn}LogGroup": arn % ("logs", f"log-group:/relayflow/{R.STACK}/{fn[:-len('Function')].lower()}:*")
               for fn in FUNCTIONS},
        }

    def resolve(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self.pseudo[arg] if arg in self.pseudo else self.refs[arg]
        if fn == "Fn::GetAtt":
            logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            assert attr == "Arn", value
            return self.arns[logical]
        if fn == "Fn::Sub":
            assert isinstance(arg, str), value
            return re.sub(r"\$\{([^}]+)\}", lambda m: self.resolve(
                {"Fn::GetAtt": m.group(1).split(".", 1)} if "." in m.group(1) and not m.group(1).startswith("AWS::")
                else {"Ref": m.group(1)}), arg)
        raise AssertionError(f"cannot resolve {value}")


def role_statements(translated: dict[str, Any], fn: str, names: Names) -> list[dict[str, Any]]:
    """The role's statements as deployed with the default TracingMode (PassThrough), resolved."""
    out = []
    for policy in translated["Resources"][f"{fn}Role"]["Properties"]["Policies"]:
        if "Fn::If" in policy:
            continue  # the X-Ray policy, only with TracingMode=Active
        for st in policy["PolicyDocument"]["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            out.append({"Sid": st.get("Sid"), "Action": actions, "Resource": [names.resolve(r) for r in resources],
                        "Condition": st.get("Condition", {})})
    return out


def allowed_by(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> str | None:
    """The Sid of the first statement allowing the request, IAM's wildcard matching; None if none."""
    for st in statements:
        if not any(fnmatch.fnmatchcase(action, a) for a in st["Action"]):
            continue
        if not any(fnmatch.fnmatchcase(resource, r.replace("[", "[[]")) for r in st["Resource"]):
            continue
        ok = True
        for op, conditions in st["Condition"].items():
            assert op == "StringEquals", op
            ok = ok and all(context.get(k) == v for k, v in conditions.items())
        if ok:
            return st["Sid"]
    return None


Request = tuple[str, str, dict[str, str]]  # (IAM action, resource ARN, condition context)


def authorizations(service: str, op: str, params: dict[str, Any]) -> list[Request]:
    """What AWS authorizes a call against (Service Authorization Reference, per service)."""
    arn = f"arn:aws:%s:{R.REGION}:{R.ACCOUNT}:%s"
    if service == "dynamodb":
        def table(name: str, index: str | None = None) -> str:
            return arn % ("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))
        if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"):
            return [(f"dynamodb:{op}", table(params["TableName"], params.get("IndexName")), {})]
        if op in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{op}", table(name), {}) for name in params["RequestItems"]]
        if op == "TransactWriteItems":  # authorized item by item (no TransactWriteItems action)
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
            return [(f"dynamodb:{kinds[k]}", table(v["TableName"]), {}) for item in params["TransactItems"]
                    for k, v in item.items()]
        if op == "TransactGetItems":
            return [("dynamodb:GetItem", table(item["Get"]["TableName"]), {}) for item in params["TransactItems"]]
    if service == "sqs":
        queue = arn % ("sqs", params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]) if "QueueUrl" in params else ""
        action = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                  "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(op, op)
        return [(f"sqs:{action}", queue, {})]
    if service == "s3" and op in ("PutObject", "GetObject", "HeadObject", "DeleteObject"):
        action = "GetObject" if op == "HeadObject" else op
        return [(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", {})]
    if service == "scheduler" and op in ("CreateSchedule", "DeleteSchedule", "GetSchedule", "UpdateSchedule"):
        out: list[Request] = [(f"scheduler:{op}", arn % ("scheduler", f"schedule/{params['GroupName']}/{params['Name']}"), {})]
        if "Target" in params:  # naming a role for the Scheduler to assume is passing it
            out.append(("iam:PassRole", params["Target"]["RoleArn"], {"iam:PassedToService": "scheduler.amazonaws.com"}))
        return out
    if service == "events" and op == "PutEvents":
        buses = {e.get("EventBusName", "default") for e in params["Entries"]}
        return [("events:PutEvents", b if b.startswith("arn:") else arn % ("events", f"event-bus/{b}"), {}) for b in buses]
    if service == "lambda" and op == "Invoke":
        name = params["FunctionName"]
        return [("lambda:InvokeFunction", name if name.startswith("arn:") else arn % ("lambda", f"function:{name}"), {})]
    raise AssertionError(f"{service}.{op}: teach authorizations() what IAM checks for this call")


class Recorder:
    def __init__(self) -> None:
        self.local = threading.local()
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []  # (function, service, op, params)
        self.lock = threading.Lock()

    def as_function(self, fn: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def tagged(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(self.local, "fn", None)
            self.local.fn = fn
            try:
                return call(*args, **kwargs)
            finally:
                self.local.fn = outer
        return tagged

    def record(self, service: str, op: str, params: dict[str, Any]) -> None:
        fn = getattr(self.local, "fn", None)
        if fn is not None:
            with self.lock:
                self.calls.append((fn, service, op, json.loads(json.dumps(params, default=str))))


    def attach(self, stack: Any) -> None:
        """Record the calls of ``stack``'s handlers (start, worker, advance) and its pump's polls."""
        check = stack.contract.check

        def recording_check(service: str, operation: str, params: dict[str, Any]) -> None:
            self.record(service, operation, params)
            check(service, operation, params)

        stack.contract.check = recording_check
        stack.start_handler = self.as_function("StartFunction", stack.start_handler)
        stack.handlers = {q: (self.as_function(ESM[q], h), size) for q, (h, size) in stack.handlers.items()}
        deliver = stack.deliver
        stack.deliver = lambda queue: self.as_function(ESM[queue], deliver)(queue)


def denied(translated: dict[str, Any], stack: Any, recorder: Recorder) -> tuple[list[str], set[tuple[str, str, str]]]:
    """(calls a deployed role would refuse, the (function, statement, action) triples some call used)."""
    names = Names(stack)
    roles = {fn: role_statements(translated, fn, names) for fn in FUNCTIONS}
    refused, used = [], set()
    for fn, service, op, params in recorder.calls:
        for action, resource, context in authorizations(service, op, params):
            sid = allowed_by(roles[fn], action, resource, context)
            if sid is None:
                refused.append(f"{fn}: {service}.{op} needs {action} on {resource}")
            else:
                used.add((fn, sid, action))
    return refused, used
