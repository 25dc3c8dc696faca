"""The pump plays AWS around the handlers, with template.yaml's settings: Lambda's SQS
event source (batch size, visibility timeout, maxReceiveCount, the function timeout)
and EventBridge Scheduler (SendMessage with no deduplication id, retry policy, DLQ)."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest

from relayflow.local import resources as R

ROLE = f"arn:aws:iam::{R.ACCOUNT}:role/{R.SCHEDULER_ROLE}"


@pytest.fixture(scope="module")
def stack():
    from relayflow.local.stack import EmbeddedStack
    with EmbeddedStack(function_timeout=1.0) as s:
        yield s


@pytest.fixture
def handlers(stack):
    saved = dict(stack.handlers)
    yield stack.handlers
    stack.handlers.clear()
    stack.handlers.update(saved)
    for inflight in stack.invisible:
        stack.sqs.change_message_visibility(QueueUrl=stack.queue_urls[inflight.queue],
                                            ReceiptHandle=inflight.receipt, VisibilityTimeout=0)
    stack.invisible.clear()
    for url in [*stack.queue_urls.values(), *stack.dlq_urls.values(), stack.timer_dlq_url]:
        drain(stack, url)  # leave no message behind for the next test


def drain(stack, url: str) -> None:
    while msgs := stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        stack.sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])


def put(stack, queue: str, n: int, group: str = "g") -> None:
    for i in range(n):
        stack.sqs.send_message(QueueUrl=stack.queue_urls[queue], MessageBody=json.dumps({"i": i}),
                               MessageGroupId=f"{group}{i}", MessageDeduplicationId=f"{group}-{i}-{time.time()}")


def recorder(calls: list[Any], fail: bool = False):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event["Records"])
        ids = [r["messageId"] for r in event["Records"]] if fail else []
        return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    return handler


def test_a_poll_takes_at_most_the_mappings_batch_size(stack, handlers):
    calls: list[Any] = []
    handlers["task"] = (recorder(calls), R.ROUTES[0].batch_size)
    put(stack, "task", 15)
    while stack.deliver("task"):
        pass
    assert [len(batch) for batch in calls] == [10, 5]  # TaskBatchSize 10 (template default)


def test_a_failed_record_comes_back_after_the_queues_visibility_timeout(stack, handlers):
    calls: list[Any] = []
    handlers["task"] = (recorder(calls, fail=True), 10)
    put(stack, "task", 1)
    assert stack.deliver("task")
    start = stack.clock.now()
    assert not stack.deliver("task")  # still invisible: Lambda does not hand it back at once
    assert stack.fire_due()  # the clock moves to its return
    assert stack.clock.now() - start == 180  # VisibilityTimeout of TaskQueue in template.yaml
    assert stack.deliver("task")
    assert calls[1][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_record_failing_max_receive_count_times_goes_to_the_dlq(stack, handlers):
    calls: list[Any] = []
    handlers["task"] = (recorder(calls, fail=True), 10)
    put(stack, "task", 1)
    for _ in range(20):
        if not (stack.deliver("task") or stack.fire_due()):
            break
    assert len(calls) == R.MAX_RECEIVE_COUNT == 5  # MaxReceiveCount default in template.yaml
    parked = stack.sqs.receive_message(QueueUrl=stack.dlq_urls["task"]).get("Messages", [])
    assert [json.loads(m["Body"]) for m in parked] == [{"i": 0}]


def test_a_handler_past_its_timeout_is_cut_off_and_its_batch_returns(stack, handlers):
    url = stack.queue_urls["event"]
    done = []

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        stack.sqs.send_message(QueueUrl=url, MessageBody="before", MessageGroupId="before")
        try:
            time.sleep(1.5)  # past the 1 s timeout this stack was given
            stack.sqs.send_message(QueueUrl=url, MessageBody="after", MessageGroupId="after")
            done.append("returned")
        finally:
            # On Lambda no finally runs after a timeout; here its AWS calls are refused.
            stack.sqs.send_message(QueueUrl=url, MessageBody="finally", MessageGroupId="finally")
        return {}

    handlers["task"] = (slow, 10)
    put(stack, "task", 1)
    assert stack.deliver("task")
    assert stack.invoker.timed_out == 1
    time.sleep(2.0)  # let the abandoned handler reach its later calls
    bodies = [m["Body"] for m in stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["before"] and done == []
    assert len(stack.invisible) == 1  # the dispatch was not deleted: it comes back after 180 s
    assert stack.contract.take_breaches() == []


def test_the_function_timeout_comes_from_the_template():
    assert R.FUNCTION_TIMEOUT == 30  # Globals.Function.Timeout (tests/infra checks the template)


# -- the Scheduler ------------------------------------------------------------------------

def sends(stack) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    stack.sqs.meta.events.register("before-parameter-build.sqs.SendMessage",
                                   lambda params, **_: seen.append(dict(params)))
    return seen


def test_the_scheduler_sends_the_target_input_with_its_group_and_no_deduplication_id(stack, handlers):
    seen = sends(stack)
    stack.scheduler.create_schedule(
        Name="plain", GroupName=R.SCHEDULE_GROUP, ScheduleExpression="at(2027-01-15T00:00:10)",
        FlexibleTimeWindow={"Mode": "OFF"}, Target={
            "Arn": stack.queue_arns["event"], "RoleArn": ROLE, "Input": '{"hello": 1}',
            "SqsParameters": {"MessageGroupId": "grp"}, "DeadLetterConfig": {"Arn": stack.settings.timer_dlq_arn}})
    stack.clock.t = 1_800_000_000.0
    assert stack.fire_due()
    (sent,) = [p for p in seen if p["QueueUrl"] == stack.queue_urls["event"]]
    assert sent["MessageBody"] == '{"hello": 1}' and sent["MessageGroupId"] == "grp"
    assert "MessageDeduplicationId" not in sent  # so the event queue needs content-based deduplication
    assert stack.pending_schedules() == []  # deleted after delivery


def test_an_undeliverable_timer_is_retried_by_its_policy_then_parked_on_the_dlq(stack, handlers):
    url = stack.sqs.create_queue(QueueName="gone.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    arn = f"arn:aws:sqs:{R.REGION}:{R.ACCOUNT}:gone.fifo"
    stack.arn_to_url[arn] = url
    stack.scheduler.create_schedule(
        Name="doomed", GroupName=R.SCHEDULE_GROUP, ScheduleExpression="at(2027-01-15T00:00:10)",
        FlexibleTimeWindow={"Mode": "OFF"}, Target={
            "Arn": arn, "RoleArn": ROLE, "Input": '{"lost": true}', "SqsParameters": {"MessageGroupId": "g"},
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": stack.settings.timer_dlq_arn}})
    stack.sqs.delete_queue(QueueUrl=url)  # every delivery now fails
    seen = sends(stack)
    stack.clock.t = 1_799_971_200.0  # ten seconds before it is due (the event's age counts from then)
    while stack.fire_due():
        pass
    assert len([p for p in seen if p["QueueUrl"] == url]) == 3  # the first try and 2 retries
    (parked,) = stack.sqs.receive_message(QueueUrl=stack.timer_dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert parked["Body"] == '{"lost": true}'
    assert parked["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] == "2"
    assert stack.pending_schedules() == [] and stack.lost_timers == []


def test_a_workflow_sleep_fires_through_the_scheduler_path(stack, handlers):
    from relayflow.core.loader import load_text
    stack.register(load_text("name: pump.sleep\ntasks:\n  - {name: nap, action: core.sleep, input: {seconds: 30}}\n",
                             "pump.yaml"))
    seen = sends(stack)
    result = stack.run("pump.sleep")
    assert result["status"] == "succeeded"
    fired = [p for p in seen if p["QueueUrl"] == stack.queue_urls["event"] and "MessageDeduplicationId" not in p]
    assert len(fired) == 1  # the sleep's timer, delivered as the Scheduler does
