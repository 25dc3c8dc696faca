"""Composition root for Lambda: the engine wired to AWS adapters from Settings.

The only module that builds AWS clients for the handlers. The embedded stack
replaces the runtime (same adapters, moto behind boto3, a virtual clock).
"""
from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from . import usage
from .actions.allowlist import ActionModules
from .actions.aws_lambda import boto3_invoker, register_lambda_action
from .actions.builtin import default_registry
from .actions.registry import ActionRegistry
from .actions.safe_http import NetworkPolicy
from .actions.worker import run_attempt
from .adapters.dynamodb import DynamoStore
from .adapters.dynamodb_items import make_model
from .adapters.dynamodb_workflows import DynamoWorkflows
from .adapters.messaging import EventBridgeBus, SchedulerTimers, SqsEventQueue, SqsTaskQueue, decode
from .adapters.payloads import PayloadStore
from .budgets import Budgets, derive
from .clock import SystemClock
from .delivery import Delivery, Received
from .engine import Engine
from .ports import Clock
from .settings import Settings

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=20)


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None, registry: ActionRegistry | None = None,
                 session: Any = None):
        self.settings = settings
        self.clock = clock or SystemClock()
        session = session or boto3.session.Session(region_name=settings.region)
        self.sqs = session.client("sqs", config=_BOTO_CONFIG)
        self.s3 = session.client("s3", config=_BOTO_CONFIG)
        self.scheduler = session.client("scheduler", config=_BOTO_CONFIG)
        self.events_client = session.client("events", config=_BOTO_CONFIG)
        self.payloads = PayloadStore(self.s3, settings.payload_bucket)
        self.model = make_model(settings.table, settings.region)
        self.store = DynamoStore(self.model, self.payloads, self.clock.now, settings.retention_days)
        self.workflows = DynamoWorkflows(self.model, self.payloads)
        self.task_queue = SqsTaskQueue(self.sqs, settings.task_queue_url, self.payloads)
        self.event_queue = SqsEventQueue(self.sqs, settings.event_queue_url, self.payloads)
        self.timers = SchedulerTimers(self.scheduler, settings.schedule_group, settings.event_queue_arn,
                                      settings.scheduler_role_arn, self.payloads, settings.timer_dlq_arn)
        self.bus = EventBridgeBus(self.events_client, settings.event_bus, self.payloads, settings.lifecycle_events,
                                  settings.events_include_input)
        # On AWS core.http reaches public addresses and the listed networks only (no loopback,
        # private ranges or metadata: the worker runs inside the account's network).
        self.actions = registry or default_registry(ActionModules.from_setting(settings.action_modules),
                                                    settings.lambda_prefix,
                                                    NetworkPolicy.from_setting(settings.http_allowed_networks))
        if "aws.lambda" not in self.actions.names():
            register_lambda_action(self.actions, boto3_invoker(session.client("lambda", config=_BOTO_CONFIG)))
        self.engine = Engine(self.store, self.workflows, self.task_queue, self.event_queue, self.timers,
                             self.bus, self.clock, defer_start=True)
        # count each execution's reads as its steps make them (relayflow.usage)
        for client in (self.s3, self.model._get_connection().connection.client):
            usage.hook(client)
        self.delivery = Delivery(self.engine, lambda body: decode(body, self.payloads), settings.max_receive_count,
                                 runner=lambda command: run_attempt(self.actions, command))


def received(record: Any) -> Received:
    """An SQS event record (Powertools' SQSRecord) as the delivery layer takes it."""
    return Received(record.message_id, record.body, record.attributes.message_group_id,
                    int(record.attributes.approximate_receive_count or 1))


def function_budgets(context: Any) -> Budgets:
    """The budgets of the function running now: its time as it starts, its memory (Lambda's context)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    timeout_ms = float(remaining()) if callable(remaining) else 30_000.0
    return derive(timeout_ms, int(getattr(context, "memory_limit_in_mb", 128) or 128))


_current: Runtime | None = None


def get_runtime() -> Runtime:
    """The process's runtime, built from the environment on first use (cold start)."""
    global _current
    if _current is None:
        _current = Runtime(Settings.from_env())
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
