"""The embedded stack: moto in-process, the real Lambda handlers, and a pump.

The pump plays what AWS does around the handlers: it receives batches from
each queue and calls the subscribed handler with an SQS event, deletes the
records the handler did not report failed and makes the others visible again
(SQS moves a record to its dead-letter queue after ``maxReceiveCount``
receives), and fires Scheduler schedules when the clock reaches them, a
virtual clock jumping over waits unless ``real_time``.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..actions.registry import ActionRegistry
from ..adapters.messaging import decode, parse_at
from ..clock import SystemClock, VirtualClock
from ..core.errors import InputError
from ..core.messages import ControlRequested, Emit
from ..core.spec import WorkflowSpec
from ..errors import PermanentError, UnknownWorkflowError
from ..ports import StateStore, WorkflowRegistry
from ..settings import Settings
from ..summary import ExecutionSummary
from . import contract as aws_contract
from . import resources as R
from .dedup_window import DedupWindow
from .lambda_runtime import FunctionTimedOut, Invoker

_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": R.REGION, "AWS_REGION": R.REGION,
    "POWERTOOLS_SERVICE_NAME": "relayflow", "POWERTOOLS_METRICS_NAMESPACE": "Relayflow",
    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING",
}


class StartError(PermanentError):
    """The start function refused the request (its error's message says why)."""


def _load(path: str) -> Callable[..., Any]:
    module, func = path.split(":")
    return getattr(importlib.import_module(module), func)


class EmbeddedStack:
    def __init__(self, registry: ActionRegistry | None = None, real_time: bool = False,
                 handler_output: Any = None, function_timeout: float = R.FUNCTION_TIMEOUT):
        for key, value in _ENV.items():
            os.environ.setdefault(key, value)
        import boto3
        import moto

        from . import moto_tuning
        moto_tuning.apply()
        self._mock = moto.mock_aws()
        self._mock.start()
        # Every call from here on, the handlers' and the pump's, must be one AWS would take.
        self.contract = aws_contract.Contract()
        self._outer_contract = aws_contract.active()  # a stack opened inside another's life
        aws_contract.activate(self.contract)
        self.invoker = Invoker(function_timeout)
        self.contract.guards.append(self.invoker.guard)
        self.invisible: list[_InFlight] = []  # failed records, back when their visibility timeout ends
        self.timer_retries: dict[str, _TimerRetry] = {}
        self.lost_timers: list[dict[str, Any]] = []
        self.real_time = real_time
        self.clock: VirtualClock | SystemClock = SystemClock() if real_time else VirtualClock()
        self.dedup = DedupWindow(self.clock.now).open()  # FIFO's five minutes, on this clock
        self.handler_output = handler_output if handler_output is not None else io.StringIO()
        self.subscribers: list[Callable[[Emit], None]] = []
        self.deliveries = 0
        session = boto3.session.Session(region_name=R.REGION)
        self.sqs = session.client("sqs")
        self._create_resources(session)
        from ..actions.aws_lambda import LocalFunctions, register_lambda_action
        from ..actions.builtin import default_registry
        from ..runtime import Runtime, set_runtime
        self.functions = LocalFunctions()  # what aws.lambda invokes here
        registry = registry or default_registry()
        register_lambda_action(registry, self.functions)
        self.runtime = Runtime(self.settings, self.clock, registry, session=session)
        set_runtime(self.runtime)
        self.handlers = {route.queue: (_load(route.handler), route.batch_size) for route in R.ROUTES}
        self.routes = {route.queue: route for route in R.ROUTES}
        self.start_handler = _load(R.START_HANDLER)
        from ..reconciler import LocalSchedule, Reconciler
        self.reconcile_schedule = LocalSchedule(
            Reconciler(self.runtime.store, self.runtime.workflows, self.runtime.event_queue, self.clock),
            self.reconcile, self.clock, virtual=not real_time)
        from ..service import Service
        self.service = Service(self.runtime.engine, self.runtime.store, self.runtime.workflows,
                               self.runtime.event_queue, self.clock, registry)
        # Powertools loggers hold the stream they were created with; point them at ours
        # so handler logs never mix with the CLI's output.
        for path in [R.START_HANDLER, R.RECONCILE_HANDLER] + [route.handler for route in R.ROUTES]:
            module = importlib.import_module(path.split(":")[0])
            handler = getattr(getattr(module, "logger", None), "registered_handler", None)
            if handler is not None and hasattr(handler, "setStream"):
                handler.setStream(self.handler_output)

    # -- resources, as template.yaml declares them ---------------------------------
    def _create_resources(self, session: Any) -> None:
        self.queue_urls: dict[str, str] = {}
        self.dlq_urls: dict[str, str] = {}
        self.queue_arns: dict[str, str] = {}
        for q in R.QUEUES:
            fifo = {"FifoQueue": "true"} if q.fifo else {}
            dlq = self.sqs.create_queue(QueueName=q.dlq_name, Attributes=dict(fifo))["QueueUrl"]
            if q.fifo:
                fifo["ContentBasedDeduplication"] = "true" if q.content_dedup else "false"
            dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attrs = {**fifo, "VisibilityTimeout": str(q.visibility_timeout),
                     "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                                  "maxReceiveCount": R.MAX_RECEIVE_COUNT})}
            url = self.sqs.create_queue(QueueName=q.name, Attributes=attrs)["QueueUrl"]
            self.queue_urls[q.key] = url
            self.dlq_urls[q.key] = dlq
            self.queue_arns[q.key] = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.timer_dlq_url = self.sqs.create_queue(QueueName=R.TIMER_DLQ)["QueueUrl"]
        timer_dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.timer_dlq_url,
                                                      AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.arn_to_url = {arn: self.queue_urls[k] for k, arn in self.queue_arns.items()}
        self.arn_to_url[timer_dlq_arn] = self.timer_dlq_url
        session.client("s3").create_bucket(Bucket=R.BUCKET)
        self.events_client = session.client("events")
        self.events_client.create_event_bus(Name=R.EVENT_BUS)
        self.observer_url: str | None = None
        self.scheduler = session.client("scheduler")
        self.scheduler.create_schedule_group(Name=R.SCHEDULE_GROUP)
        role_arn = session.client("iam").create_role(
            RoleName=R.SCHEDULER_ROLE, AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "scheduler.amazonaws.com"}}]}),
        )["Role"]["Arn"]
        self.settings = Settings(
            table=R.TABLE, task_queue_url=self.queue_urls["task"], event_queue_url=self.queue_urls["event"],
            event_queue_arn=self.queue_arns["event"], event_bus=R.EVENT_BUS, schedule_group=R.SCHEDULE_GROUP,
            scheduler_role_arn=role_arn, payload_bucket=R.BUCKET, max_receive_count=R.MAX_RECEIVE_COUNT,
            region=R.REGION, lifecycle_events=os.environ.get("RELAYFLOW_LIFECYCLE_EVENTS", "workflow"),
            timer_dlq_arn=timer_dlq_arn,
        )
        for key, value in self.settings.to_env().items():
            os.environ[key] = value
        from ..adapters.dynamodb_items import make_model
        make_model(R.TABLE, R.REGION).create_table(wait=True)
        session.client("dynamodb").update_time_to_live(
            TableName=R.TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})

    def close(self) -> None:
        from ..runtime import set_runtime
        set_runtime(None)
        if aws_contract.active() is self.contract:
            aws_contract.activate(self._outer_contract)
        self.invoker.close()
        self.dedup.close()
        self._mock.stop()

    def __enter__(self) -> EmbeddedStack:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- using it ----------------------------------------------------------------------
    @property
    def store(self) -> StateStore:
        return self.runtime.store

    @property
    def workflows(self) -> WorkflowRegistry:
        return self.runtime.workflows

    def register(self, spec: WorkflowSpec) -> str:
        return self.runtime.workflows.register(spec)

    def subscribe(self, fn: Callable[[Emit], None]) -> None:
        """Call ``fn`` with every lifecycle event, read from the bus through an SQS queue
        (created with the first subscriber: an unread queue would slow every SQS call).

        A subscriber wants task events too, so the bus's default level (``workflow``, as
        deployed) is raised to ``all``; ``none`` stays none."""
        if self.runtime.bus.level == "workflow":
            self.runtime.bus.level = "all"
        if self.observer_url is None:
            self.observer_url = self.sqs.create_queue(QueueName=f"{R.STACK}-observer")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=self.observer_url,
                                                AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.events_client.put_rule(Name="observe", EventBusName=R.EVENT_BUS,
                                        EventPattern=json.dumps({"source": ["relayflow"]}))
            self.events_client.put_targets(Rule="observe", EventBusName=R.EVENT_BUS,
                                           Targets=[{"Id": "observer", "Arn": arn}])
        self.subscribers.append(fn)

    def start(self, workflow: str, input: Any = None, execution_id: str | None = None) -> str:
        event = {"workflow": workflow, "input": input}
        if execution_id:
            event["execution_id"] = execution_id
        try:
            with contextlib.redirect_stdout(self.handler_output):
                out = self.invoker.invoke("relayflow-start", self.start_handler, event)
        except Exception:
            self.check_contract()  # a refused call is the cause: say so
            raise
        self.check_contract()
        if "error" in out:
            if out["error"]["type"] == "InvalidInput":
                raise InputError(out["error"]["problems"])
            if out["error"]["type"] == "UnknownWorkflow":
                raise UnknownWorkflowError(workflow)
            raise StartError(out["error"]["message"])
        return out["execution_id"]

    def control(self, execution_id: str, action: str, reason: str | None = None) -> None:
        self.runtime.event_queue.send(ControlRequested(execution_id, action, reason, uuid.uuid4().hex))

    def describe(self, execution_id: str) -> ExecutionSummary:
        return self.runtime.engine.describe(execution_id)

    def run(self, workflow: str, input: Any = None, max_deliveries: int | None = None) -> ExecutionSummary:
        eid = self.start(workflow, input)
        self.pump(max_deliveries=max_deliveries)
        return self.describe(eid)

    # -- the pump: Lambda's SQS event sources ------------------------------------------
    def deliver(self, queue: str) -> bool:
        """One poll of ``queue`` handed to its handler, as Lambda's SQS event source does it;
        False when the queue had nothing visible.

        A poll takes up to the mapping's BatchSize messages (more receives while the
        batching window lasts); records the handler reports failed, or all of them when it
        raised or ran past its timeout, are left alone: SQS makes them visible again when
        the queue's visibility timeout ends (the pump keeps that in its clock), and moves
        one to the dead-letter queue on the receive after maxReceiveCount.
        """
        handler, batch = self.handlers[queue]
        route = self.routes.get(queue)
        url = self.queue_urls[queue]
        messages: list[dict[str, Any]] = []
        while len(messages) < batch:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, batch - len(messages)),
                                           MessageSystemAttributeNames=["All"],
                                           MessageAttributeNames=["All"]).get("Messages", [])
            messages += got
            if not got or route is None or route.batching_window == 0:
                break
        if not messages:
            return False
        self.deliveries += 1
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m.get("MD5OfBody"), "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arns[queue], "awsRegion": R.REGION} for m in messages]}
        self._check_payload(f"the {queue} batch event", event)
        try:
            with contextlib.redirect_stdout(self.handler_output):
                result = self.invoker.invoke(f"relayflow-{queue}", handler, event)
            self._check_payload(f"the {queue} handler's response", result)
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except (Exception, FunctionTimedOut):  # the whole invocation failed: every record comes back
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
        visible_at = self.clock.now() + self.visibility[queue]
        self.invisible += [_InFlight(visible_at, queue, m["ReceiptHandle"]) for m in messages
                           if m["MessageId"] in failed]
        return True

    def _check_payload(self, what: str, payload: Any) -> None:
        from .contract import rules_lambda
        size = len(json.dumps(payload, default=str).encode("utf-8"))
        breach = rules_lambda.payload_breach(size, what)
        if breach is not None:
            self.contract.breaches.append(("lambda.Invoke", breach))

    def _return_invisible(self, now: float) -> bool:
        """Make visible again the failed records whose visibility timeout has ended."""
        due = [m for m in self.invisible if m.visible_at <= now]
        if not due:
            return False
        self.invisible = [m for m in self.invisible if m.visible_at > now]
        for m in due:
            try:
                self.sqs.change_message_visibility(QueueUrl=self.queue_urls[m.queue], ReceiptHandle=m.receipt,
                                                   VisibilityTimeout=0)
            except Exception:  # received again already (real time), or moved to the DLQ
                continue
        return True

    def observe(self) -> None:
        if self.observer_url is None:
            return
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.observer_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return
            for m in msgs:
                body = json.loads(m["Body"])
                detail = body.get("detail")
                if isinstance(detail, dict) and "$rf_s3" in detail:
                    detail = self.runtime.payloads.load(json.dumps(detail))
                for fn in self.subscribers:
                    fn(Emit(body.get("detail-type", ""), detail or {}))
            self.sqs.delete_message_batch(QueueUrl=self.observer_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])

    # -- the pump: EventBridge Scheduler ------------------------------------------------
    def pending_schedules(self) -> list[tuple[float, str]]:
        """(when, name) of every schedule not yet delivered; one waiting to retry, when it retries."""
        out = []
        paginator = self.scheduler.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=R.SCHEDULE_GROUP):
            for s in page.get("Schedules", []):
                retry = self.timer_retries.get(s["Name"])
                if retry is not None:
                    out.append((retry.due, s["Name"]))
                    continue
                detail = self.scheduler.get_schedule(Name=s["Name"], GroupName=R.SCHEDULE_GROUP)
                out.append((parse_at(detail["ScheduleExpression"]), s["Name"]))
        return sorted(out)

    def fire_due(self) -> bool:
        """Move the clock to the next schedule or returning message and fire or return
        what is due; False when nothing is pending."""
        pending = self.pending_schedules()
        times = [when for when, _ in pending[:1]] + [m.visible_at for m in self.invisible]
        if not times:
            return False
        next_due = min(times)
        if self.real_time:
            time.sleep(max(0.0, next_due - self.clock.now()))
        else:
            assert isinstance(self.clock, VirtualClock)
            self.clock.advance_to(next_due)
        now = self.clock.now()
        self._return_invisible(now)
        for when, name in pending:
            if when > now:
                break
            self._fire(name, now)
        return True

    def _fire(self, name: str, now: float) -> None:
        """Deliver one schedule as the Scheduler does to an SQS target: SendMessage of the
        target's Input with SqsParameters' group id and no deduplication id; a failed send
        is retried (RetryPolicy: attempts and maximum event age, with back-off) and then
        sent to the target's DeadLetterConfig queue, or dropped when there is none. The
        one-time schedule is deleted after its last try (ActionAfterCompletion DELETE)."""
        s = self.scheduler.get_schedule(Name=name, GroupName=R.SCHEDULE_GROUP)
        target = s["Target"]
        retry = self.timer_retries.get(name) or _TimerRetry(parse_at(s["ScheduleExpression"]), 0, 0.0)
        kwargs: dict[str, Any] = {"QueueUrl": self.arn_to_url.get(target["Arn"], target["Arn"]),
                                  "MessageBody": target["Input"]}
        if "SqsParameters" in target:
            kwargs["MessageGroupId"] = target["SqsParameters"]["MessageGroupId"]
        try:
            self.sqs.send_message(**kwargs)
        except Exception as exc:
            policy = target.get("RetryPolicy") or {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400}
            backoff = min(2.0 ** retry.attempts, 300.0)
            if (retry.attempts < policy["MaximumRetryAttempts"]
                    and now + backoff - retry.first <= policy["MaximumEventAgeInSeconds"]):
                self.timer_retries[name] = _TimerRetry(retry.first, retry.attempts + 1, now + backoff)
                return
            self._dead_letter(name, s, exc, retry.attempts)
        self.timer_retries.pop(name, None)
        self.scheduler.delete_schedule(Name=name, GroupName=R.SCHEDULE_GROUP)

    def _dead_letter(self, name: str, schedule: dict[str, Any], exc: Exception, retries: int) -> None:
        target = schedule["Target"]
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        if dlq is None:
            self.lost_timers.append({"schedule": name, "error": str(exc)})
            return
        attrs = {"ERROR_CODE": code, "ERROR_MESSAGE": str(exc)[:1000], "RETRY_ATTEMPTS": str(retries),
                 "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts", "TARGET_ARN": target["Arn"],
                 "SCHEDULE_ARN": schedule.get("Arn", name)}
        self.sqs.send_message(QueueUrl=self.arn_to_url[dlq], MessageBody=target["Input"], MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()})

    def reconcile(self) -> Any:
        """ReconcileFunction's scheduled invocation (the handler, under Lambda's timeout)."""
        with contextlib.redirect_stdout(self.handler_output):
            return self.invoker.invoke("relayflow-reconcile", _load(R.RECONCILE_HANDLER), {})

    def step(self) -> bool:
        """Deliver one batch (tasks first), fire due schedules or run the reconciler when its
        schedule comes (``reconciler.LocalSchedule``); False when idle.

        Raises ContractBreached when a call of the step broke one of AWS's rules, even if
        the code that made it caught the error AWS would have answered with."""
        progressed = self.deliver("task") or self.deliver("event")
        if self.subscribers:
            self.observe()
        progressed = progressed or self.fire_due()
        progressed = self.reconcile_schedule.step(idle=not progressed) or progressed
        self.check_contract()
        return progressed

    def check_contract(self) -> None:
        breaches = self.contract.take_breaches()
        if breaches:
            raise aws_contract.ContractBreached(breaches)

    def pump(self, max_deliveries: int | None = None) -> None:
        while self.step():
            if max_deliveries is not None and self.deliveries >= max_deliveries:
                raise RuntimeError(f"gave up after {max_deliveries} deliveries")

    @property
    def visibility(self) -> dict[str, int]:
        return {q.key: q.visibility_timeout for q in R.QUEUES}

    def dead_letters(self, queue: str) -> list[Any]:
        msgs = self.sqs.receive_message(QueueUrl=self.dlq_urls[queue], MaxNumberOfMessages=10,
                                        VisibilityTimeout=0).get("Messages", [])
        out = []
        for m in msgs:
            try:
                out.append(decode(m["Body"], self.runtime.payloads))
            except Exception:
                out.append(m["Body"])
        return out


@dataclass
class _InFlight:
    visible_at: float
    queue: str
    receipt: str


@dataclass
class _TimerRetry:
    first: float     # when the schedule first fired
    attempts: int    # retries so far
    due: float       # when the next one is
