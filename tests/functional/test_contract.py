"""The embedded stack's AWS contract: each rule, broken on purpose through the stack's
own clients, is refused with the AWS error code and recorded; the call just inside the
limit goes through. moto alone takes every one of the broken calls."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from relayflow.local import resources as R
from relayflow.local.contract import ContractBreached, ContractViolation

ROLE = f"arn:aws:iam::{R.ACCOUNT}:role/{R.SCHEDULER_ROLE}"


@pytest.fixture(scope="module")
def stack():
    from relayflow.local.stack import EmbeddedStack
    with EmbeddedStack() as s:
        s.plain_url = s.sqs.create_queue(QueueName="contract-plain")["QueueUrl"]
        s.nodedup_url = s.sqs.create_queue(QueueName="contract-nodedup.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "false"})["QueueUrl"]
        yield s


def sqs_send(stack, **kw: Any) -> Callable[[], Any]:
    return lambda: stack.sqs.send_message(**{"QueueUrl": stack.queue_urls["event"], "MessageBody": "{}",
                                             "MessageGroupId": "g", "MessageDeduplicationId": "d", **kw})


def fifo(stack) -> str:
    return stack.queue_urls["event"]


def schedule(stack, target: dict[str, Any] | None = None, **kw: Any) -> Callable[[], Any]:
    base_target = {"Arn": stack.queue_arns["event"], "RoleArn": ROLE, "Input": "{}",
                   "SqsParameters": {"MessageGroupId": "g"},
                   "DeadLetterConfig": {"Arn": stack.settings.timer_dlq_arn}}
    params = {"Name": "ok-name", "GroupName": R.SCHEDULE_GROUP, "ScheduleExpression": "at(2030-01-01T00:00:00)",
              "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": {**base_target, **(target or {})}, **kw}
    return lambda: stack.scheduler.create_schedule(**params)


def item(pk: str = "EXEC#x", sk: str = "HEAD", **attrs: Any) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **attrs}


def ddb(stack):
    return stack.runtime.session_clients["dynamodb"]


def put(stack, it: dict[str, Any]) -> Callable[[], Any]:
    return lambda: ddb(stack).put_item(TableName=R.TABLE, Item=it)


def events(stack, entries: list[dict[str, Any]]) -> Callable[[], Any]:
    return lambda: stack.events_client.put_events(Entries=entries)


def entry(detail: str = "{}", **kw: Any) -> dict[str, Any]:
    return {"Source": "relayflow", "DetailType": "t", "Detail": detail, "EventBusName": R.EVENT_BUS, **kw}


BROKEN: list[tuple[str, str, Callable[[Any], Callable[[], Any]]]] = [
    # SQS
    ("sqs.fifo-id-length", "InvalidParameterValue", lambda s: sqs_send(s, MessageGroupId="g" * 129)),
    ("sqs.fifo-id-length", "InvalidParameterValue", lambda s: sqs_send(s, MessageDeduplicationId="d" * 129)),
    ("sqs.fifo-id-characters", "InvalidParameterValue", lambda s: sqs_send(s, MessageGroupId="a b")),
    ("sqs.fifo-id-characters", "InvalidParameterValue", lambda s: sqs_send(s, MessageGroupId="é")),
    ("sqs.fifo-group-required", "MissingParameter", lambda s: sqs_send(s, MessageGroupId="")),
    ("sqs.fifo-no-message-delay", "InvalidParameterValue", lambda s: sqs_send(s, DelaySeconds=5)),
    ("sqs.fifo-dedup-required", "InvalidParameterValue", lambda s: lambda: s.sqs.send_message(
        QueueUrl=s.nodedup_url, MessageBody="{}", MessageGroupId="g")),
    ("sqs.message-size", "InvalidParameterValue", lambda s: sqs_send(s, MessageBody="x" * 262_145)),
    ("sqs.message-size", "InvalidParameterValue", lambda s: sqs_send(s, MessageBody="x" * 262_000, MessageAttributes={
        "a": {"DataType": "String", "StringValue": "y" * 200}})),
    ("sqs.body-characters", "InvalidMessageContents", lambda s: sqs_send(s, MessageBody="bad \x00 byte")),
    ("sqs.delay-range", "InvalidParameterValue", lambda s: lambda: s.sqs.send_message(
        QueueUrl=s.plain_url, MessageBody="x", DelaySeconds=901)),
    ("sqs.batch-entries", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", lambda s: lambda: s.sqs.send_message_batch(
        QueueUrl=s.plain_url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])),
    ("sqs.batch-ids-distinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", lambda s: lambda: s.sqs.send_message_batch(
        QueueUrl=s.plain_url, Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}])),
    ("sqs.batch-size", "AWS.SimpleQueueService.BatchRequestTooLong", lambda s: lambda: s.sqs.send_message_batch(
        QueueUrl=s.plain_url, Entries=[{"Id": str(i), "MessageBody": "x" * 100_000} for i in range(3)])),
    ("sqs.receive-count", "InvalidParameterValue", lambda s: lambda: s.sqs.receive_message(
        QueueUrl=s.plain_url, MaxNumberOfMessages=11)),
    ("sqs.visibility-range", "InvalidParameterValue", lambda s: lambda: s.sqs.change_message_visibility(
        QueueUrl=s.plain_url, ReceiptHandle="h", VisibilityTimeout=43_201)),
    ("sqs.queue-name", "InvalidParameterValue", lambda s: lambda: s.sqs.create_queue(QueueName="no spaces")),
    ("sqs.fifo-name", "InvalidParameterValue", lambda s: lambda: s.sqs.create_queue(
        QueueName="fifo-without-suffix", Attributes={"FifoQueue": "true"})),
    ("sqs.dlq-type", "InvalidParameterValue", lambda s: lambda: s.sqs.create_queue(
        QueueName="f2.fifo", Attributes={"FifoQueue": "true", "RedrivePolicy": json.dumps({
            "deadLetterTargetArn": f"arn:aws:sqs:{R.REGION}:{R.ACCOUNT}:contract-plain", "maxReceiveCount": 3})})),
    # Scheduler
    ("scheduler.name", "ValidationException", lambda s: schedule(s, Name="x" * 65)),
    ("scheduler.name", "ValidationException", lambda s: schedule(s, Name="has#hash")),
    ("scheduler.name", "ValidationException", lambda s: schedule(s, GroupName="bad group")),
    ("scheduler.at-expression", "ValidationException", lambda s: schedule(s, ScheduleExpression="at(tomorrow)")),
    ("scheduler.at-expression", "ValidationException",
     lambda s: schedule(s, ScheduleExpression="at(2030-02-30T00:00:00)")),
    ("scheduler.at-expression", "ValidationException",
     lambda s: schedule(s, ScheduleExpression="at(2030-01-01 00:00:00)")),
    ("scheduler.timezone", "ValidationException", lambda s: schedule(s, ScheduleExpressionTimezone="Mars/Base")),
    ("scheduler.flexible-window", "ValidationException",
     lambda s: schedule(s, FlexibleTimeWindow={"Mode": "FLEXIBLE"})),
    ("scheduler.input-size", "ValidationException", lambda s: schedule(s, {"Input": "x" * 262_145})),
    ("scheduler.fifo-group-required", "ValidationException", lambda s: schedule(s, {"SqsParameters": None})),
    ("scheduler.sqs-group-length", "ValidationException",
     lambda s: schedule(s, {"SqsParameters": {"MessageGroupId": "g" * 129}})),
    ("scheduler.fifo-content-dedup", "ValidationException", lambda s: schedule(s, {
        "Arn": f"arn:aws:sqs:{R.REGION}:{R.ACCOUNT}:contract-nodedup.fifo"})),
    ("scheduler.retry-policy", "ValidationException", lambda s: schedule(s, {"RetryPolicy": {
        "MaximumRetryAttempts": 186, "MaximumEventAgeInSeconds": 60}})),
    ("scheduler.retry-policy", "ValidationException", lambda s: schedule(s, {"RetryPolicy": {
        "MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 59}})),
    ("scheduler.dlq-standard", "ValidationException", lambda s: schedule(s, {"DeadLetterConfig": {
        "Arn": s.queue_arns["event"]}})),
    ("scheduler.dlq-configured", "ValidationException", lambda s: schedule(s, {"DeadLetterConfig": None})),
    ("scheduler.role-arn", "ValidationException", lambda s: schedule(s, {"RoleArn": "not-a-role"})),
    # DynamoDB
    ("dynamodb.item-size", "ValidationException", lambda s: put(s, item(d={"S": "x" * 409_600}))),
    ("dynamodb.key-size", "ValidationException", lambda s: put(s, item(pk="p" * 2049))),
    ("dynamodb.key-size", "ValidationException", lambda s: put(s, item(sk="s" * 1025))),
    ("dynamodb.number", "ValidationException", lambda s: put(s, item(v={"N": "1" * 39}))),
    ("dynamodb.number", "ValidationException", lambda s: put(s, item(v={"N": "1E+126"}))),
    ("dynamodb.expression-length", "ValidationException", lambda s: lambda: ddb(s).update_item(
        TableName=R.TABLE, Key=item(), UpdateExpression="SET " + ", ".join(f"a{i} = :v" for i in range(700)),
        ExpressionAttributeValues={":v": {"S": "x"}})),
    ("dynamodb.item-size", "ValidationException", lambda s: lambda: ddb(s).update_item(
        TableName=R.TABLE, Key=item(), UpdateExpression="SET d = :v",
        ExpressionAttributeValues={":v": {"S": "x" * 409_600}})),
    ("dynamodb.batch-write-count", "ValidationException", lambda s: lambda: ddb(s).batch_write_item(RequestItems={
        R.TABLE: [{"PutRequest": {"Item": item(sk=f"K{i}")}} for i in range(26)]})),
    ("dynamodb.batch-write-duplicate", "ValidationException", lambda s: lambda: ddb(s).batch_write_item(
        RequestItems={R.TABLE: [{"PutRequest": {"Item": item()}}, {"PutRequest": {"Item": item()}}]})),
    ("dynamodb.transaction-actions", "ValidationException", lambda s: lambda: ddb(s).transact_write_items(
        TransactItems=[{"Put": {"TableName": R.TABLE, "Item": item(sk=f"K{i}")}} for i in range(101)])),
    ("dynamodb.transaction-same-item", "ValidationException", lambda s: lambda: ddb(s).transact_write_items(
        TransactItems=[{"Put": {"TableName": R.TABLE, "Item": item()}},
                       {"Delete": {"TableName": R.TABLE, "Key": item()}}])),
    ("dynamodb.transaction-size", "ValidationException", lambda s: lambda: ddb(s).transact_write_items(
        TransactItems=[{"Put": {"TableName": R.TABLE, "Item": item(sk=f"K{i}", d={"S": "x" * 400_000})}}
                       for i in range(11)])),
    ("dynamodb.client-request-token", "ValidationException", lambda s: lambda: ddb(s).transact_write_items(
        TransactItems=[{"Put": {"TableName": R.TABLE, "Item": item()}}], ClientRequestToken="t" * 37)),
    ("dynamodb.batch-get-count", "ValidationException", lambda s: lambda: ddb(s).batch_get_item(RequestItems={
        R.TABLE: {"Keys": [item(sk=f"K{i}") for i in range(101)]}})),
    # EventBridge
    ("events.entries", "ValidationException", lambda s: events(s, [entry() for _ in range(11)])),
    ("events.entry-size", "ValidationException", lambda s: events(s, [entry(json.dumps({"x": "y" * 262_144}))])),
    ("events.request-size", "ValidationException",
     lambda s: events(s, [entry(json.dumps({"x": "y" * 100_000})) for _ in range(3)])),
    ("events.detail-json", "ValidationException", lambda s: events(s, [entry('{"x": NaN}')])),
    ("events.detail-json", "ValidationException", lambda s: events(s, [entry("[1, 2]")])),
    ("events.required", "ValidationException", lambda s: events(s, [entry(DetailType="")])),
    # Lambda, S3
    ("lambda.payload-size", "RequestEntityTooLargeException", lambda s: lambda: s.lambda_client.invoke(
        FunctionName="f", Payload=b"x" * (6 * 1024 * 1024 + 1))),
    ("lambda.payload-size", "RequestEntityTooLargeException", lambda s: lambda: s.lambda_client.invoke(
        FunctionName="f", InvocationType="Event", Payload=b"x" * (256 * 1024 + 1))),
    ("s3.key-length", "KeyTooLongError", lambda s: lambda: s.runtime.s3.put_object(
        Bucket=R.BUCKET, Key="k" * 1025, Body=b"x")),
]


@pytest.fixture(scope="module", autouse=True)
def clients(stack):
    session = boto3.session.Session(region_name=R.REGION)
    stack.runtime.session_clients = {"dynamodb": session.client("dynamodb")}
    stack.lambda_client = session.client("lambda")


@pytest.mark.parametrize("rule,code,call", BROKEN, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(BROKEN)])
def test_a_broken_rule_is_refused_as_aws_would_and_recorded(stack, rule, code, call):
    stack.contract.take_breaches()
    with pytest.raises(ContractViolation) as info:
        call(stack)()
    assert info.value.breach.rule == rule
    assert info.value.response["Error"]["Code"] == code
    assert info.value.breach.source  # every rule names its AWS source
    (recorded,) = stack.contract.take_breaches()
    assert recorded[1].rule == rule
    # ... and the stack turns a recorded breach into a loud failure of the step
    stack.contract.breaches.append(recorded)
    with pytest.raises(ContractBreached, match=rule):
        stack.check_contract()


JUST_INSIDE: list[tuple[str, Callable[[Any], Callable[[], Any]]]] = [
    ("128-character group id", lambda s: sqs_send(s, MessageGroupId="g" * 128, MessageDeduplicationId="d" * 128)),
    ("punctuation in ids", lambda s: sqs_send(s, MessageGroupId="a:b.c-d_e~f!", MessageDeduplicationId="x/y")),
    ("256 KiB message", lambda s: sqs_send(s, MessageBody="x" * 262_144, MessageDeduplicationId="big")),
    ("content-based deduplication needs no id", lambda s: lambda: s.sqs.send_message(
        QueueUrl=fifo(s), MessageBody="{}", MessageGroupId="g")),
    ("a complete schedule", lambda s: schedule(s, Name="x" * 64)),
    ("2048-byte partition key", lambda s: put(s, item(pk="p" * 2048, sk="s" * 1024))),
    ("38-digit number", lambda s: put(s, item(sk="N", v={"N": "9" * 38}))),
    ("25-item batch write", lambda s: lambda: ddb(s).batch_write_item(RequestItems={
        R.TABLE: [{"PutRequest": {"Item": item(sk=f"B{i}")}} for i in range(25)]})),
    ("10 events under 256 KB", lambda s: events(s, [entry(json.dumps({"x": "y" * 25_000})) for _ in range(10)])),
]


@pytest.mark.parametrize("what,call", JUST_INSIDE, ids=[w for w, _ in JUST_INSIDE])
def test_a_call_just_inside_the_limits_goes_through(stack, what, call):
    stack.contract.take_breaches()
    call(stack)()
    assert stack.contract.take_breaches() == []


def test_every_client_of_the_stack_is_checked(stack):
    # PynamoDB builds its own botocore client: the hook is on it too.
    stack.contract.take_breaches()
    model = stack.runtime.model
    with pytest.raises(Exception) as info:
        model("EXEC#" + "x" * 2100, "HEAD").save()
    assert "dynamodb.key-size" in str(info.value)
    assert [b.rule for _, b in stack.contract.take_breaches()] == ["dynamodb.key-size"]

