"""Contract tests of template.yaml: lint-clean, wired as designed, least privilege.

cfn-lint runs twice per session (raw and translated) through the module-scoped
``report`` fixture, and once more on a deliberately broken copy; every other
test reads the translated template that the lint already produced.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shlex
import string
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from relayflow.api import document as api_spec
from relayflow.local import resources as local_resources

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SCRIPT = REPO / "infra" / "scripts" / "lint_template.py"

FUNCTIONS = ("StartFunction", "WorkerFunction", "AdvanceFunction", "ApiFunction", "ReconcileFunction")
ENV_VARS = {
    "RELAYFLOW_LIFECYCLE_EVENTS",
    "RELAYFLOW_ACTION_MODULES",
    "RELAYFLOW_HTTP_ALLOWED_NETWORKS",
    "RELAYFLOW_EVENTS_INCLUDE_INPUT",
    "RELAYFLOW_LAMBDA_PREFIX",
    "RELAYFLOW_TABLE",
    "RELAYFLOW_TASK_QUEUE_URL",
    "RELAYFLOW_EVENT_QUEUE_URL",
    "RELAYFLOW_EVENT_QUEUE_ARN",
    "RELAYFLOW_EVENT_BUS",
    "RELAYFLOW_SCHEDULE_GROUP",
    "RELAYFLOW_SCHEDULER_ROLE_ARN",
    "RELAYFLOW_TIMER_DLQ_ARN",
    "RELAYFLOW_PAYLOAD_BUCKET",
    "RELAYFLOW_RETENTION_DAYS",
    "RELAYFLOW_MAX_RECEIVE_COUNT",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


# Warnings the lint may report without failing, with the reason; mirrors
# ACCEPTED_WARNINGS in the script. Empty: both passes are clean today.
ACCEPTED_WARNINGS: dict[tuple[str, str], str] = {}


# ----------------------------------------------------------------- fixtures --
@pytest.fixture(scope="module")
def lint() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("relayflow_lint_template", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def report(lint: ModuleType):
    return lint.lint_template(TEMPLATE)


@pytest.fixture(scope="module")
def cfn(report) -> dict[str, Any]:
    assert report.translated is not None, [str(f) for f in report.findings]
    return report.translated


@pytest.fixture(scope="module")
def resources(cfn: dict[str, Any]) -> dict[str, Any]:
    return cfn["Resources"]


@pytest.fixture(scope="module")
def source(lint: ModuleType) -> dict[str, Any]:
    return lint.load_template(TEMPLATE)


def props(resources: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return resources[logical_id]["Properties"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def policies(resources: dict[str, Any], role_id: str, active_tracing: bool = True) -> list[dict[str, Any]]:
    """A role's inline policies, a conditional one (``Fn::If [ActiveTracing, ...]``) resolved."""
    out = []
    for policy in props(resources, role_id).get("Policies", []):
        if "Fn::If" in policy:
            condition, then, otherwise = policy["Fn::If"]
            assert condition == "ActiveTracing" and otherwise == {"Ref": "AWS::NoValue"}, policy
            if not active_tracing:
                continue
            policy = then
        out.append(policy)
    return out


def statements(resources: dict[str, Any], role_id: str, active_tracing: bool = True) -> list[dict[str, Any]]:
    out = []
    for policy in policies(resources, role_id, active_tracing):
        out += policy["PolicyDocument"]["Statement"]
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(resources: dict[str, Any], role_id: str, active_tracing: bool = False) -> set[tuple[str, str]]:
    """(action, resource) pairs of a role's inline policies, resources rendered as JSON
    (with ``TracingMode=PassThrough``, the default, unless ``active_tracing``)."""
    pairs = set()
    for st in statements(resources, role_id, active_tracing):
        assert st["Effect"] == "Allow"
        for action in as_list(st["Action"]):
            for res in as_list(st["Resource"]):
                pairs.add((action, json.dumps(res, sort_keys=True)))
    return pairs


SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def referenced_ids(value: Any) -> set[str]:
    """Logical ids a Ref / GetAtt / Sub in ``value`` points at (pseudo parameters excluded)."""
    if isinstance(value, str):
        return set()
    if isinstance(value, list):
        return set().union(*map(referenced_ids, value))
    ((fn, arg),) = value.items()
    if fn == "Ref":
        return set() if arg.startswith("AWS::") else {arg}
    if fn == "Fn::GetAtt":
        return {arg[0] if isinstance(arg, list) else arg.split(".")[0]}
    if fn == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0]
        return {n.split(".")[0] for n in SUB_NAME.findall(text) if not n.startswith("AWS::")}
    return referenced_ids(list(value.values()))


# --------------------------------------------------------------------- lint --
class TestLint:
    def test_no_errors_raw_or_translated(self, report):
        assert not report.errors, "\n".join(map(str, report.errors))

    def test_translation_happened(self, report):
        assert report.translated is not None
        assert "Transform" not in report.translated

    def test_only_accepted_warnings(self, report, lint):
        assert lint.ACCEPTED_WARNINGS == ACCEPTED_WARNINGS
        assert all(reason.strip() for reason in ACCEPTED_WARNINGS.values())
        assert not report.unaccepted_warnings, "\n".join(map(str, report.unaccepted_warnings))
        assert report.ok

    def test_script_exit_status_reflects_report(self, lint, monkeypatch, capsys):
        # GIVEN the (already computed) report  WHEN main() runs  THEN it exits 0 and prints both passes
        monkeypatch.setattr(lint, "lint_template", lambda *a, **k: lint.LintReport())
        assert lint.main([str(TEMPLATE)]) == 0
        out = capsys.readouterr().out
        assert "cfn-lint (raw)" in out and "cfn-lint (translated)" in out
        bad = lint.LintReport(findings=[lint.Finding("translated", "E3030", "error", "x", "f", 1)])
        monkeypatch.setattr(lint, "lint_template", lambda *a, **k: bad)
        assert lint.main([str(TEMPLATE)]) == 1
        assert lint.main(["/nonexistent/template.yaml"]) == 2


BROKEN_EDITS = {
    # Each of these passes `cfn-lint template.yaml`: the errors sit inside
    # resources that SAM generates. Only the translated pass sees them.
    "runtime": ("    Runtime: python3.12\n", "    Runtime: python3.99\n"),
    "response_type": (
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
        "            FunctionResponseTypes: [ReportBatchItemFailure]\n",
    ),
    "policy_ref": (
        "              Resource: !GetAtt StateTable.Arn\n",
        "              Resource: !GetAtt StateTablo.Arn\n",
    ),
}


@pytest.fixture(scope="module")
def broken_report(lint, tmp_path_factory):
    text = TEMPLATE.read_text()
    for old, new in BROKEN_EDITS.values():
        assert old in text, f"template changed; update BROKEN_EDITS: {old!r}"
        text = text.replace(old, new, 1)
    path = tmp_path_factory.mktemp("broken") / "template.yaml"
    path.write_text(text)
    return lint.lint_template(path, stages=(lint.TRANSLATED,))


class TestLintCatchesInjectedErrors:
    def test_bad_runtime_in_globals(self, broken_report):
        hits = [f for f in broken_report.errors if f.rule == "E3030" and "python3.99" in f.message]
        assert {f.path[1] for f in hits} == set(FUNCTIONS)

    def test_bad_function_response_type(self, broken_report):
        hits = [f for f in broken_report.errors if "ReportBatchItemFailure'" in f.message]
        assert [f.path[1] for f in hits] == ["WorkerFunctionTaskMessages"]

    def test_dangling_ref_in_policy(self, broken_report):
        hits = [f for f in broken_report.errors if "StateTablo" in f.message]
        assert hits and hits[0].path[1] == "StartFunctionRole"

    def test_broken_copy_fails(self, broken_report):
        assert not broken_report.ok


# ---------------------------------------------------------------- resources --
class TestResources:
    def test_resource_inventory(self, resources):
        counts: dict[str, int] = {}
        for res in resources.values():
            counts[res["Type"]] = counts.get(res["Type"], 0) + 1
        assert counts == {
            "AWS::Lambda::Function": 5,
            "AWS::IAM::Role": 6,  # one per function + the scheduler role
            "AWS::Lambda::EventSourceMapping": 2,
            "AWS::Lambda::Permission": 24,  # API Gateway may invoke ApiFunction: one per route; the reconcile rule
            "AWS::Events::Rule": 1,  # the reconciler's schedule
            "AWS::ApiGateway::RestApi": 1,
            "AWS::ApiGateway::Deployment": 1,
            "AWS::ApiGateway::Stage": 1,
            "AWS::Lambda::LayerVersion": 1,
            "AWS::DynamoDB::Table": 1,
            "AWS::SQS::Queue": 5,  # task, event and their DLQs, the timers' DLQ
            "AWS::Events::EventBus": 1,
            "AWS::Scheduler::ScheduleGroup": 1,
            "AWS::S3::Bucket": 1,
            "AWS::S3::BucketPolicy": 1,
            "AWS::CloudWatch::Alarm": 7,
            "AWS::Logs::LogGroup": 6,  # one per function, the API's access log
        }
        assert set(of_type(resources, "AWS::Lambda::Function")) == set(FUNCTIONS)

    def test_functions_share_globals(self, resources):
        (layer_id,) = of_type(resources, "AWS::Lambda::LayerVersion")
        for fn in FUNCTIONS:
            p = props(resources, fn)
            assert p["Runtime"] == "python3.12"
            assert p["Architectures"] == ["arm64"]
            assert (p["MemorySize"], p["Timeout"]) == (128, 30)
            assert p["Handler"] == "app.handler"
            assert p["TracingConfig"] == {"Mode": {"Ref": "TracingMode"}}
            assert p["Layers"] == [{"Ref": layer_id}]
            assert set(p["Environment"]["Variables"]) == ENV_VARS

    def test_environment_wiring(self, resources):
        env = props(resources, "AdvanceFunction")["Environment"]["Variables"]
        assert env["RELAYFLOW_TABLE"] == {"Ref": "StateTable"}
        assert env["RELAYFLOW_TASK_QUEUE_URL"] == {"Ref": "TaskQueue"}
        assert env["RELAYFLOW_EVENT_QUEUE_URL"] == {"Ref": "EventQueue"}
        assert env["RELAYFLOW_EVENT_QUEUE_ARN"] == {"Fn::GetAtt": ["EventQueue", "Arn"]}
        assert env["RELAYFLOW_EVENT_BUS"] == {"Fn::GetAtt": ["EventBus", "Name"]}
        assert env["RELAYFLOW_SCHEDULE_GROUP"] == {"Ref": "ScheduleGroup"}
        assert env["RELAYFLOW_SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
        assert env["RELAYFLOW_PAYLOAD_BUCKET"] == {"Ref": "PayloadBucket"}
        assert env["RELAYFLOW_RETENTION_DAYS"] == {"Ref": "RetentionDays"}
        assert env["RELAYFLOW_MAX_RECEIVE_COUNT"] == {"Ref": "MaxReceiveCount"}
        assert env["POWERTOOLS_SERVICE_NAME"] == "relayflow"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Relayflow"
        assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
        assert env["RELAYFLOW_LIFECYCLE_EVENTS"] == {"Ref": "LifecycleEvents"}
        assert env["RELAYFLOW_ACTION_MODULES"] == {"Ref": "ActionModules"}
        assert env["RELAYFLOW_HTTP_ALLOWED_NETWORKS"] == {"Ref": "HttpAllowedNetworks"}
        assert env["RELAYFLOW_EVENTS_INCLUDE_INPUT"] == {"Ref": "LifecycleEventsIncludeInput"}
        # aws.lambda's prefix in code is the one the worker's IAM allows (test_worker_grants).
        # (the same account and region too: a function of that name elsewhere is refused in code)
        assert env["RELAYFLOW_LAMBDA_PREFIX"] == {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-action-"}
        worker = [st for st in statements(resources, "WorkerFunctionRole") if st["Sid"] == "InvokeActionFunctions"]
        assert [st["Resource"]["Fn::Sub"] for st in worker] == [env["RELAYFLOW_LAMBDA_PREFIX"]["Fn::Sub"] + "*"]

    def test_source_layout(self, source):
        res = source["Resources"]
        assert {fn: res[fn]["Properties"]["CodeUri"] for fn in FUNCTIONS} == {
            "StartFunction": "functions/start/",
            "WorkerFunction": "functions/worker/",
            "AdvanceFunction": "functions/advance/",
            "ApiFunction": "functions/api/",
            "ReconcileFunction": "functions/reconcile/",
        }
        layer = res["EngineLayer"]
        assert layer["Properties"]["ContentUri"] == "layers/engine/"
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
        assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}
        assert source["Globals"]["Function"]["Layers"] == [{"Ref": "EngineLayer"}]
        assert "Events" not in res["StartFunction"]["Properties"]

    def test_parameters(self, source):
        params = source["Parameters"]
        defaults = {name: p.get("Default") for name, p in params.items()}
        assert defaults == {
            "Stage": "dev",
            "RetentionDays": 30,
            "TaskBatchSize": 10,
            "EventBatchSize": 10,
            "WorkerMaxConcurrency": 50,
            "AdvanceMaxConcurrency": 20,
            "MaxReceiveCount": 5,
            "TracingMode": "PassThrough",
            "LifecycleEvents": "workflow",
            "LogLevel": "INFO",
            "AlarmTopicArn": "",
            "ActionModules": "",
            "HttpAllowedNetworks": "",
            "LifecycleEventsIncludeInput": "false",
            "ApiAuthType": "AWS_IAM",
            "LogRetentionDays": 30,
            "ApiThrottlingRateLimit": 50,
            "ApiThrottlingBurstLimit": 100,
        }
        assert params["TracingMode"]["AllowedValues"] == ["Active", "PassThrough"]
        assert params["ApiAuthType"]["AllowedValues"] == ["AWS_IAM", "NONE"]


class TestEventSources:
    def esm(self, resources, function: str) -> dict[str, Any]:
        (mapping,) = [
            r["Properties"]
            for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
            if r["Properties"]["FunctionName"] == {"Ref": function}
        ]
        return mapping

    def test_worker_reads_task_queue(self, resources):
        m = self.esm(resources, "WorkerFunction")
        assert m["EventSourceArn"] == {"Fn::GetAtt": ["TaskQueue", "Arn"]}
        assert m["BatchSize"] == {"Ref": "TaskBatchSize"}
        assert m["MaximumBatchingWindowInSeconds"] == 0
        assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert m["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}

    def test_advance_reads_event_queue(self, resources):
        m = self.esm(resources, "AdvanceFunction")
        assert m["EventSourceArn"] == {"Fn::GetAtt": ["EventQueue", "Arn"]}
        assert m["BatchSize"] == {"Ref": "EventBatchSize"}
        assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert m["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "AdvanceMaxConcurrency"}}
        # FIFO event sources do not support a batching window.
        assert "MaximumBatchingWindowInSeconds" not in m

    def test_start_has_no_event_source(self, resources):
        fns = [r["Properties"]["FunctionName"] for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()]
        assert {"Ref": "StartFunction"} not in fns


class TestQueues:
    def test_task_queue_is_fifo_deduplicating_per_attempt(self, resources):
        q = props(resources, "TaskQueue")
        assert q["FifoQueue"] is True
        assert q["QueueName"]["Fn::Sub"].endswith(".fifo")
        assert q["DeduplicationScope"] == "messageGroup"
        assert q["FifoThroughputLimit"] == "perMessageGroupId"
        assert props(resources, "TaskDLQ")["FifoQueue"] is True
        assert q["VisibilityTimeout"] == 180 >= 6 * props(resources, "WorkerFunction")["Timeout"]
        assert q["MessageRetentionPeriod"] == 4 * 86400
        assert q["SqsManagedSseEnabled"] is True
        assert q["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": ["TaskDLQ", "Arn"]},
            "maxReceiveCount": {"Ref": "MaxReceiveCount"},
        }
        assert props(resources, "TaskDLQ")["MessageRetentionPeriod"] == 14 * 86400

    def test_event_queue_is_high_throughput_fifo(self, resources):
        q = props(resources, "EventQueue")
        assert q["FifoQueue"] is True
        assert q["QueueName"]["Fn::Sub"].endswith(".fifo")
        # The Scheduler sends timers with no deduplication id: a FIFO target needs this.
        assert q["ContentBasedDeduplication"] is True
        assert q["DeduplicationScope"] == "messageGroup"
        assert q["FifoThroughputLimit"] == "perMessageGroupId"
        assert q["VisibilityTimeout"] == 180 >= 6 * props(resources, "AdvanceFunction")["Timeout"]
        assert q["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": ["EventDLQ", "Arn"]},
            "maxReceiveCount": {"Ref": "MaxReceiveCount"},
        }

    def test_timer_dlq_is_a_standard_queue_with_an_alarm(self, resources):
        # The Scheduler takes only a standard queue as a schedule's dead-letter queue.
        dlq = props(resources, "TimerDLQ")
        assert "FifoQueue" not in dlq and not dlq["QueueName"]["Fn::Sub"].endswith(".fifo")
        assert dlq["MessageRetentionPeriod"] == 14 * 86400

    def test_event_dlq_is_fifo(self, resources):
        dlq = props(resources, "EventDLQ")
        assert dlq["FifoQueue"] is True
        assert dlq["QueueName"]["Fn::Sub"].endswith(".fifo")
        assert dlq["MessageRetentionPeriod"] == 14 * 86400


class TestStorage:
    def test_table(self, resources):
        t = props(resources, "StateTable")
        assert t["BillingMode"] == "PAY_PER_REQUEST"
        assert t["KeySchema"] == [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]
        assert {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]} == {
            "pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S", "due_pk": "S", "due_sk": "S",
        }
        gsi, due = t["GlobalSecondaryIndexes"]
        assert gsi["IndexName"] == "gsi1"
        assert [k["AttributeName"] for k in gsi["KeySchema"]] == ["gsi1pk", "gsi1sk"]
        assert gsi["Projection"] == {"ProjectionType": "ALL"}
        assert due["IndexName"] == "due"
        assert [k["AttributeName"] for k in due["KeySchema"]] == ["due_pk", "due_sk"]
        assert due["Projection"] == {"ProjectionType": "KEYS_ONLY"}  # a head's rewrite in its bucket: no index write
        assert t["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
        assert t["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert t["SSESpecification"] == {"SSEEnabled": True}

    def test_the_embedded_stacks_table_has_the_templates_indexes(self, resources):
        # the embedded stack creates its table from the PynamoDB model: the same keys and indexes
        from relayflow.adapters.dynamodb_items import make_model

        t = props(resources, "StateTable")
        schema = make_model("t", "us-east-1")._get_schema()
        assert ({(a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]}
                == {(a["AttributeName"], a["AttributeType"]) for a in t["AttributeDefinitions"]})
        assert ({(g["index_name"], json.dumps(g["key_schema"], sort_keys=True), g["projection"]["ProjectionType"])
                 for g in schema["global_secondary_indexes"]}
                == {(g["IndexName"], json.dumps(g["KeySchema"], sort_keys=True), g["Projection"]["ProjectionType"])
                    for g in t["GlobalSecondaryIndexes"]})

    def test_bucket(self, resources):
        b = props(resources, "PayloadBucket")
        assert set(b["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(b["PublicAccessBlockConfiguration"]) == 4
        (enc,) = b["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert enc["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        rules = {r["Id"]: r for r in b["LifecycleConfiguration"]["Rules"]}
        assert rules["ExpirePayloads"]["Prefix"] == "payloads/"
        assert rules["ExpirePayloads"]["ExpirationInDays"] == {"Ref": "RetentionDays"}
        assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}

    def test_bucket_policy_denies_plain_http(self, resources):
        p = props(resources, "PayloadBucketPolicy")
        assert p["Bucket"] == {"Ref": "PayloadBucket"}
        (st,) = p["PolicyDocument"]["Statement"]
        assert st["Effect"] == "Deny"
        assert st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    def test_bus_and_schedule_group(self, resources):
        assert props(resources, "EventBus")["Name"] == {"Fn::Sub": "relayflow-${Stage}"}
        assert resources["ScheduleGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"


# --------------------------------------------------------------------- IAM --
def function_role(fn: str) -> str:
    return f"{fn}Role"


class TestLeastPrivilege:
    """Each function's role, statement by statement. tests/infra/test_role_coverage.py checks
    the other direction: every AWS call a handler makes on the embedded stack is allowed here."""

    def test_every_function_has_its_own_explicit_role(self, resources, source):
        roles = set()
        for fn in FUNCTIONS:
            assert props(resources, fn)["Role"] == {"Fn::GetAtt": [function_role(fn), "Arn"]}
            # declared in template.yaml, not generated by SAM (whose roles carry managed policies)
            assert source["Resources"][function_role(fn)]["Type"] == "AWS::IAM::Role"
            roles.add(function_role(fn))
        assert len(roles) == len(FUNCTIONS)

    @pytest.mark.parametrize("role", [function_role(fn) for fn in FUNCTIONS])
    def test_trusts_lambda_only(self, resources, role):
        (trust,) = props(resources, role)["AssumeRolePolicyDocument"]["Statement"]
        assert trust == {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}

    @pytest.mark.parametrize("role", [function_role(fn) for fn in FUNCTIONS] + ["SchedulerRole"])
    def test_no_managed_policies(self, resources, role):
        # SAM's generated roles carried AWSLambdaBasicExecutionRole (logs on "*"),
        # AWSXrayWriteOnlyAccess and, for SQS event sources, AWSLambdaSQSQueueExecutionRole
        # (receive/delete on every queue of the account). None may come back.
        assert "ManagedPolicyArns" not in props(resources, role)
        assert "PermissionsBoundary" not in props(resources, role)

    @pytest.mark.parametrize("fn", FUNCTIONS)
    def test_no_wildcard_resource_but_xray(self, resources, fn):
        for active in (False, True):
            for st in statements(resources, function_role(fn), active):
                for action in as_list(st["Action"]):
                    service, _, verb = action.partition(":")
                    assert "*" not in verb, f"{fn}: wildcard action {action}"
                    for res in as_list(st["Resource"]):
                        if res == "*":
                            # X-Ray's PutTraceSegments/PutTelemetryRecords take no resource type
                            assert service == "xray", f"{fn}: {action} on *"
                            continue
                        # Every other resource is one this stack declares, or (aws.lambda's
                        # targets) a name under a prefix this stack owns.
                        owned = "${AWS::StackName}-" in json.dumps(res)
                        assert owned or referenced_ids(res) & set(resources), f"{fn}: {action} on {res}"

    @pytest.mark.parametrize("fn", FUNCTIONS)
    def test_traces_only_with_active_tracing(self, resources, fn):
        # TracingMode=PassThrough records no traces of its own: no X-Ray grant at all then.
        assert not [st for st in statements(resources, function_role(fn), False)
                    if any(a.startswith("xray:") for a in as_list(st["Action"]))]
        (xray,) = [st for st in statements(resources, function_role(fn), True)
                   if any(a.startswith("xray:") for a in as_list(st["Action"]))]
        assert (sorted(xray["Action"]), xray["Resource"]) == (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*")

    @pytest.mark.parametrize("fn", FUNCTIONS)
    def test_logs_only_to_its_own_group(self, resources, fn):
        logs = {(a, r) for a, r in grants(resources, function_role(fn)) if a.startswith("logs:")}
        group = json.dumps({"Fn::GetAtt": [f"{fn}LogGroup", "Arn"]})
        # no logs:CreateLogGroup: the group exists, made by the stack with its retention
        assert logs == {("logs:CreateLogStream", group), ("logs:PutLogEvents", group)}

    def test_only_the_pollers_receive_and_each_only_its_own_queue(self, resources):
        polled = {}
        for fn in FUNCTIONS:
            for action, res in grants(resources, function_role(fn)):
                if action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                    polled.setdefault(fn, set()).add((action, res))
        poll = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
        task, event = (json.dumps({"Fn::GetAtt": [q, "Arn"]}) for q in ("TaskQueue", "EventQueue"))
        assert polled == {"WorkerFunction": {(a, task) for a in poll}, "AdvanceFunction": {(a, event) for a in poll}}
        # ... and those are the queues their event source mappings read
        for fn, queue in (("WorkerFunction", "TaskQueue"), ("AdvanceFunction", "EventQueue")):
            (esm,) = [m["Properties"] for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
                      if m["Properties"]["FunctionName"] == {"Ref": fn}]
            assert esm["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}

    def test_worker_only_reads_and_claims_in_dynamodb(self, resources):
        # the claim: read the attempt's head and run, put its CLAIM item; nothing else
        table = json.dumps({"Fn::GetAtt": ["StateTable", "Arn"]})
        dynamo = {(a, r) for a, r in grants(resources, function_role("WorkerFunction")) if a.startswith("dynamodb:")}
        assert dynamo == {("dynamodb:GetItem", table), ("dynamodb:PutItem", table)}

    def test_start_grants(self, resources):
        # read the definition, put the head and its index entry; Advance takes it from there
        table = json.dumps({"Fn::GetAtt": ["StateTable", "Arn"]})
        events = json.dumps({"Fn::GetAtt": ["EventQueue", "Arn"]})
        payloads = json.dumps({"Fn::Sub": "${PayloadBucket.Arn}/payloads/*"})
        logs = json.dumps({"Fn::GetAtt": ["StartFunctionLogGroup", "Arn"]})
        assert grants(resources, "StartFunctionRole") == {
            ("logs:CreateLogStream", logs), ("logs:PutLogEvents", logs),
            *{(a, table) for a in ("dynamodb:GetItem", "dynamodb:PutItem")},
            ("sqs:SendMessage", events),
            ("s3:GetObject", payloads),
            ("s3:PutObject", payloads),
        }

    def test_worker_grants(self, resources):
        events = json.dumps({"Fn::GetAtt": ["EventQueue", "Arn"]})
        tasks = json.dumps({"Fn::GetAtt": ["TaskQueue", "Arn"]})
        payloads = json.dumps({"Fn::Sub": "${PayloadBucket.Arn}/payloads/*"})
        actions = json.dumps(
            {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-action-*"}
        )
        table = json.dumps({"Fn::GetAtt": ["StateTable", "Arn"]})
        logs = json.dumps({"Fn::GetAtt": ["WorkerFunctionLogGroup", "Arn"]})
        assert grants(resources, "WorkerFunctionRole") == {
            ("logs:CreateLogStream", logs), ("logs:PutLogEvents", logs),
            ("sqs:ReceiveMessage", tasks), ("sqs:DeleteMessage", tasks), ("sqs:GetQueueAttributes", tasks),
            ("dynamodb:GetItem", table),
            ("dynamodb:PutItem", table),
            ("sqs:SendMessage", events),
            ("s3:GetObject", payloads),
            ("s3:PutObject", payloads),
            ("lambda:InvokeFunction", actions),
        }

    def test_reconcile_grants(self, resources):
        table = json.dumps({"Fn::GetAtt": ["StateTable", "Arn"]})
        index = json.dumps({"Fn::Sub": "${StateTable.Arn}/index/due"})
        payloads = json.dumps({"Fn::Sub": "${PayloadBucket.Arn}/payloads/*"})
        logs = json.dumps({"Fn::GetAtt": ["ReconcileFunctionLogGroup", "Arn"]})
        assert grants(resources, "ReconcileFunctionRole") == {
            ("logs:CreateLogStream", logs), ("logs:PutLogEvents", logs),
            ("dynamodb:GetItem", table),
            ("dynamodb:Query", table),
            ("dynamodb:PutItem", table),
            ("dynamodb:Query", index),
            ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["EventQueue", "Arn"]})),
            ("s3:GetObject", payloads),
        }
        # the cursor is its only write: PutItem of its own item, by a condition on the partition key
        (put,) = [st for st in statements(resources, "ReconcileFunctionRole") if st["Action"] == "dynamodb:PutItem"]
        assert put["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["MARK#reconciler"]}}

    def test_advance_grants(self, resources):
        # the single writer of execution state; no index query (listing is the API's and the
        # reconciler's), no batch reads or condition checks (no code makes them)
        table = json.dumps({"Fn::GetAtt": ["StateTable", "Arn"]})
        payloads = json.dumps({"Fn::Sub": "${PayloadBucket.Arn}/payloads/*"})
        schedules = json.dumps(
            {"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${ScheduleGroup}/*"}
        )
        events = json.dumps({"Fn::GetAtt": ["EventQueue", "Arn"]})
        logs = json.dumps({"Fn::GetAtt": ["AdvanceFunctionLogGroup", "Arn"]})
        item_actions = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem"]
        assert grants(resources, "AdvanceFunctionRole") == {
            ("logs:CreateLogStream", logs), ("logs:PutLogEvents", logs),
            ("sqs:ReceiveMessage", events), ("sqs:DeleteMessage", events), ("sqs:GetQueueAttributes", events),
            *{(f"dynamodb:{a}", table) for a in item_actions},
            ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["TaskQueue", "Arn"]})),
            ("sqs:SendMessage", events),
            *{(f"scheduler:{a}", schedules) for a in ("CreateSchedule", "DeleteSchedule")},
            ("iam:PassRole", json.dumps({"Fn::GetAtt": ["SchedulerRole", "Arn"]})),
            ("events:PutEvents", json.dumps({"Fn::GetAtt": ["EventBus", "Arn"]})),
            ("s3:GetObject", payloads),
            ("s3:PutObject", payloads),
        }

    def test_api_grants(self, resources):
        # Reads and registers (GetItem, PutItem, Query on the table and its index), queues
        # control events, callbacks and answers for Advance, and large payloads. Nothing else:
        # no UpdateItem or DeleteItem, no task queue, no scheduler, no bus.
        table = json.dumps({"Fn::GetAtt": ["StateTable", "Arn"]})
        index = json.dumps({"Fn::Sub": "${StateTable.Arn}/index/gsi1"})
        payloads = json.dumps({"Fn::Sub": "${PayloadBucket.Arn}/payloads/*"})
        logs = json.dumps({"Fn::GetAtt": ["ApiFunctionLogGroup", "Arn"]})
        assert grants(resources, "ApiFunctionRole") == {
            ("logs:CreateLogStream", logs), ("logs:PutLogEvents", logs),
            *{(f"dynamodb:{a}", table) for a in ("GetItem", "PutItem", "Query")},
            ("dynamodb:Query", index),
            ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["EventQueue", "Arn"]})),
            ("s3:GetObject", payloads),
            ("s3:PutObject", payloads),
        }

    def test_no_function_touches_a_dead_letter_queue(self, resources):
        # Parked messages are for an operator (and the Scheduler parks timers with its own role).
        dlqs = {json.dumps({"Fn::GetAtt": [q, "Arn"]}) for q in ("TaskDLQ", "EventDLQ", "TimerDLQ")}
        for fn in FUNCTIONS:
            assert not {r for _, r in grants(resources, function_role(fn), True)} & dlqs, fn

    def test_pass_role_only_to_scheduler(self, resources):
        (st,) = [s for s in statements(resources, "AdvanceFunctionRole") if s["Action"] == "iam:PassRole"]
        assert st["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
        for fn in FUNCTIONS:
            if fn != "AdvanceFunction":
                assert not [a for a, _ in grants(resources, function_role(fn), True) if a.startswith("iam:")], fn

    def test_scheduler_role(self, resources):
        role = props(resources, "SchedulerRole")
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert "ManagedPolicyArns" not in role
        assert grants(resources, "SchedulerRole") == {
            ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["EventQueue", "Arn"]})),
            ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["TimerDLQ", "Arn"]})),
        }


# --------------------------------------------------------------------- API --
@pytest.fixture(scope="module")
def body(resources) -> dict[str, Any]:
    """The API's OpenAPI body as SAM leaves it (routes, auth and the events' integrations)."""
    return props(resources, "Api")["Body"]


class TestApi:
    def test_routes_are_the_openapi_documents(self, body):
        # The routes API Gateway serves are exactly the operations relayflow.api.document documents
        # (and the handler implements: tests/api checks every one over HTTP).
        deployed = {(m.upper(), path) for path, item in body["paths"].items() for m in item}
        assert deployed == set(api_spec.routes())

    def test_every_method_uses_the_auth_parameter_and_iam_is_the_default(self, body, source):
        for path, item in body["paths"].items():
            for method, op in item.items():
                assert op["x-amazon-apigateway-auth"] == {"type": {"Ref": "ApiAuthType"}}, (path, method)
        assert source["Parameters"]["ApiAuthType"]["Default"] == "AWS_IAM"

    def test_every_method_proxies_to_the_api_function(self, body):
        uri = {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ApiFunction.Arn}"
                          "/invocations"}
        for item in body["paths"].values():
            for op in item.values():
                integration = op["x-amazon-apigateway-integration"]
                assert (integration["type"], integration["httpMethod"], integration["uri"]) == ("aws_proxy", "POST", uri)

    def test_cors_is_off(self, body, resources):
        assert not [m for item in body["paths"].values() for m in item if m.lower() == "options"]
        assert "Cors" not in props(resources, "Api") and "x-amazon-apigateway-cors" not in body

    def test_only_this_api_may_invoke_the_function(self, resources):
        perms = of_type(resources, "AWS::Lambda::Permission")
        assert perms
        (schedule,) = [p["Properties"] for p in perms.values()
                       if p["Properties"]["FunctionName"] == {"Ref": "ReconcileFunction"}]
        # the reconciler may be invoked by its own schedule rule only
        assert (schedule["Principal"], schedule["SourceArn"]) == (
            "events.amazonaws.com", {"Fn::GetAtt": ["ReconcileFunctionEveryFiveMinutes", "Arn"]})
        for perm in perms.values():
            if perm["Properties"]["FunctionName"] == {"Ref": "ReconcileFunction"}:
                continue
            p = perm["Properties"]
            assert (p["FunctionName"], p["Principal"], p["Action"]) == (
                {"Ref": "ApiFunction"}, "apigateway.amazonaws.com", "lambda:InvokeFunction")
            template, values = p["SourceArn"]["Fn::Sub"]
            assert template.startswith("arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/")
            assert values["__ApiId__"] == {"Ref": "Api"}

    def test_stage_and_tracing(self, resources, cfn):
        (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
        assert stage["Properties"]["StageName"] == "v1"
        assert stage["Properties"]["TracingEnabled"] == {"Fn::If": ["ActiveTracing", True, False]}
        assert cfn["Conditions"]["ActiveTracing"] == {"Fn::Equals": [{"Ref": "TracingMode"}, "Active"]}
        assert props(resources, "Api")["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


RETENTION_VALUES = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                    2922, 3288, 3653]  # what CloudWatch Logs' PutRetentionPolicy accepts


class TestLogsAndThrottling:
    def test_each_function_logs_to_its_own_group_with_the_retention_parameter(self, resources):
        groups = {}
        for fn in FUNCTIONS:
            config = props(resources, fn)["LoggingConfig"]
            assert config == {"LogGroup": {"Ref": f"{fn}LogGroup"}}, fn
            group = props(resources, f"{fn}LogGroup")
            assert resources[f"{fn}LogGroup"]["Type"] == "AWS::Logs::LogGroup"
            assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
            groups[fn] = group["LogGroupName"]["Fn::Sub"]
        assert len(set(groups.values())) == len(FUNCTIONS)
        assert all(name.startswith("/relayflow/${AWS::StackName}/") for name in groups.values())

    def test_retention_parameter_takes_only_what_cloudwatch_accepts(self, source):
        param = source["Parameters"]["LogRetentionDays"]
        assert param["AllowedValues"] == RETENTION_VALUES and param["Default"] in RETENTION_VALUES

    def test_stage_throttling_from_parameters(self, resources, source):
        (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
        assert stage["Properties"]["MethodSettings"] == [{
            "ResourcePath": "/*", "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
        }]
        params = source["Parameters"]
        assert params["ApiThrottlingRateLimit"]["Type"] == params["ApiThrottlingBurstLimit"]["Type"] == "Number"
        assert params["ApiThrottlingRateLimit"]["MinValue"] == params["ApiThrottlingBurstLimit"]["MinValue"] == 1

    def test_json_access_log_with_caller_route_status_latency(self, resources):
        (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
        setting = stage["Properties"]["AccessLogSetting"]
        assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
        assert props(resources, "ApiAccessLogGroup")["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert "\n" not in setting["Format"]  # one line per request
        fields = json.loads(setting["Format"])
        assert all(re.fullmatch(r"\$context\.[\w.]+", v) for v in fields.values()), fields
        assert {
            "requestId": "$context.requestId",
            "caller": "$context.identity.caller",
            "userArn": "$context.identity.userArn",
            "httpMethod": "$context.httpMethod",
            "resourcePath": "$context.resourcePath",
            "status": "$context.status",
            "responseLatency": "$context.responseLatency",
        }.items() <= fields.items()


# ------------------------------------------------------------ observability --
class TestAlarms:
    def test_alarms(self, resources):
        alarms = {k: v["Properties"] for k, v in of_type(resources, "AWS::CloudWatch::Alarm").items()}
        watched = set()
        for alarm in alarms.values():
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
            assert (alarm["Period"], alarm["EvaluationPeriods"]) == (60, 1)
            assert alarm["AlarmActions"] == {
                "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
            }
            (dim,) = alarm["Dimensions"]
            watched.add((alarm["Namespace"], alarm["MetricName"], json.dumps(dim["Value"])))
        assert watched == {
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", json.dumps({"Fn::GetAtt": ["TaskDLQ", "QueueName"]})),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", json.dumps({"Fn::GetAtt": ["EventDLQ", "QueueName"]})),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", json.dumps({"Fn::GetAtt": ["TimerDLQ", "QueueName"]})),
            ("AWS/Lambda", "Errors", json.dumps({"Ref": "WorkerFunction"})),
            ("AWS/Lambda", "Errors", json.dumps({"Ref": "AdvanceFunction"})),
            ("AWS/Lambda", "Errors", json.dumps({"Ref": "ApiFunction"})),
            ("Relayflow", "StuckExecutions", json.dumps("relayflow")),
        }

    def test_alarm_topic_condition(self, cfn):
        assert cfn["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}


class TestOutputs:
    def test_outputs(self, cfn):
        assert {
            "StateTableName", "TaskQueueUrl", "TaskQueueArn", "EventQueueUrl", "EventQueueArn",
            "TaskDLQUrl", "EventDLQUrl", "EventBusName", "PayloadBucketName", "ScheduleGroupName",
            "StartFunctionName", "StartFunctionArn", "WorkerFunctionName", "WorkerFunctionArn",
            "AdvanceFunctionName", "AdvanceFunctionArn", "ApiFunctionName", "ApiFunctionArn", "ApiId", "ApiUrl",
        } <= set(cfn["Outputs"])
        assert cfn["Outputs"]["ApiUrl"]["Value"] == {
            "Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"}


class TestInfraFiles:
    def test_dashboard(self, cfn):
        # GIVEN the dashboard body with ${Output} placeholders
        text = (REPO / "infra" / "dashboard.json").read_text()
        tpl = string.Template(text)
        names = set(tpl.get_identifiers())
        # THEN every placeholder is a stack output (or the region) and the result is JSON
        assert names <= set(cfn["Outputs"]) | {"Region"}, names - set(cfn["Outputs"])
        body = json.loads(tpl.substitute({n: f"x-{n}" for n in names}))
        metric_widgets = [w for w in body["widgets"] if w["type"] == "metric"]
        assert all(w["properties"]["region"] == "x-Region" for w in metric_widgets)
        rows = [row for w in metric_widgets for row in w["properties"]["metrics"]]
        plain = {row[0] for row in rows if isinstance(row[0], str)}
        expressions = [row[0]["expression"] for row in rows if isinstance(row[0], dict)]
        assert plain == {"AWS/SQS", "AWS/Lambda"}
        custom = set()
        for expr in expressions:
            match = re.search(r'Namespace="Relayflow" MetricName="(\w+)"', expr)
            assert match, expr
            custom.add(match.group(1))
        assert {
            "ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed",
            "AttemptsSucceeded", "AttemptsFailed",
        } <= custom
        for w in metric_widgets:  # expression ids are unique within a widget
            ids = [r[0]["id"] for r in w["properties"]["metrics"] if isinstance(r[0], dict)]
            assert len(ids) == len(set(ids))

    def test_deployment_doc_lists_every_parameter_with_its_default(self, source):
        text = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
        rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", text, re.M))
        params = source["Parameters"]
        assert set(params) <= set(rows), set(params) - set(rows)
        for name, p in params.items():
            default = str(p.get("Default", ""))
            assert rows[name] == (f"`{default}`" if default else "empty"), (name, rows[name], default)

    def test_samconfig_overrides_name_real_parameters(self, source):
        config = tomllib.loads((REPO / "infra" / "samconfig.toml").read_text())
        assert {"dev", "prod"} <= set(config)
        for env in ("dev", "prod"):
            deploy = config[env]["deploy"]["parameters"]
            keys = {item.split("=", 1)[0] for item in shlex.split(deploy["parameter_overrides"])}
            assert keys <= set(source["Parameters"]), keys - set(source["Parameters"])
            assert deploy["capabilities"] == "CAPABILITY_IAM"


# ------------------------------------------------------- local stack mirror --
@pytest.fixture(scope="module")
def local() -> ModuleType:
    return local_resources


QUEUE_KEYS = {"TaskQueue": "task", "EventQueue": "event"}  # template logical id -> local key


def handler_path(source: dict[str, Any], fn: str) -> str:
    """``functions/worker/`` + ``app.handler`` -> ``functions.worker.app:handler``."""
    p = source["Resources"][fn]["Properties"]
    module, _, func = p["Handler"].rpartition(".")
    return p["CodeUri"].strip("/").replace("/", ".") + f".{module}:{func}"


class TestLocalStackMirrorsTemplate:
    """The embedded stack (relayflow.local.resources) must match what SAM deploys."""

    def test_routes(self, local, source, resources):
        defaults = {k: v.get("Default") for k, v in source["Parameters"].items()}
        deployed = set()
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values():
            p = m["Properties"]
            queue = QUEUE_KEYS[p["EventSourceArn"]["Fn::GetAtt"][0]]
            fn = p["FunctionName"]["Ref"]
            deployed.add((queue, handler_path(source, fn), defaults[p["BatchSize"]["Ref"]],
                          p.get("MaximumBatchingWindowInSeconds", 0)))
        assert {(r.queue, r.handler, r.batch_size, r.batching_window) for r in local.ROUTES} == deployed

    def test_function_timeout(self, local, source, resources):
        # The pump cuts a handler off at this timeout, as Lambda does.
        assert source["Globals"]["Function"]["Timeout"] == local.FUNCTION_TIMEOUT
        for fn in FUNCTIONS:
            assert props(resources, fn)["Timeout"] == local.FUNCTION_TIMEOUT

    def test_start_handler(self, local, source):
        assert handler_path(source, "StartFunction") == local.START_HANDLER

    def test_queues(self, local, resources, source):
        specs = {q.key: q for q in local.QUEUES}
        assert set(specs) == set(QUEUE_KEYS.values())
        for logical_id, key in QUEUE_KEYS.items():
            q = props(resources, logical_id)
            spec = specs[key]
            assert spec.fifo == bool(q.get("FifoQueue", False))
            assert spec.visibility_timeout == q["VisibilityTimeout"]
            assert spec.content_dedup == bool(q.get("ContentBasedDeduplication", False))
            dlq = props(resources, q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
            assert spec.dlq_name.endswith(".fifo") == bool(dlq.get("FifoQueue", False))
            if "QueueName" in q:  # named queues: same name once the stack name is filled in
                assert q["QueueName"]["Fn::Sub"].replace("${AWS::StackName}", local.STACK) == spec.name
                assert dlq["QueueName"]["Fn::Sub"].replace("${AWS::StackName}", local.STACK) == spec.dlq_name
        assert source["Parameters"]["MaxReceiveCount"]["Default"] == local.MAX_RECEIVE_COUNT
        timer_dlq = props(resources, "TimerDLQ")
        assert timer_dlq["QueueName"]["Fn::Sub"].replace("${AWS::StackName}", local.STACK) == local.TIMER_DLQ
