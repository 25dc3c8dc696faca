"""Deployment settings, read once from the environment the template sets."""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import PermanentError


class SettingsError(PermanentError):
    """The environment the template sets is missing a value or holds a bad one."""


@dataclass(frozen=True)
class Settings:
    table: str
    task_queue_url: str
    event_queue_url: str
    event_queue_arn: str
    event_bus: str
    schedule_group: str
    scheduler_role_arn: str
    payload_bucket: str
    retention_days: int = 30
    max_receive_count: int = 5
    region: str = "us-east-1"
    lifecycle_events: str = "workflow"  # which events go to the bus: workflow | all | none
    timer_dlq_arn: str = ""  # the schedules' dead-letter queue (a standard queue)
    action_modules: str = ""  # the python: action modules this deployment declares (comma separated)
    lambda_prefix: str = ""  # aws.lambda invokes only functions whose names start with it
    events_include_input: bool = False  # lifecycle events on the bus carry the workflow's input
    http_allowed_networks: str = ""  # CIDRs core.http may reach besides public addresses (comma separated)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        names = {
            "table": "RELAYFLOW_TABLE", "task_queue_url": "RELAYFLOW_TASK_QUEUE_URL",
            "event_queue_url": "RELAYFLOW_EVENT_QUEUE_URL", "event_queue_arn": "RELAYFLOW_EVENT_QUEUE_ARN",
            "event_bus": "RELAYFLOW_EVENT_BUS", "schedule_group": "RELAYFLOW_SCHEDULE_GROUP",
            "scheduler_role_arn": "RELAYFLOW_SCHEDULER_ROLE_ARN", "payload_bucket": "RELAYFLOW_PAYLOAD_BUCKET",
        }
        missing = [var for var in names.values() if not env.get(var)]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            **{field: env[var] for field, var in names.items()},
            retention_days=int(env.get("RELAYFLOW_RETENTION_DAYS", "30")),
            max_receive_count=int(env.get("RELAYFLOW_MAX_RECEIVE_COUNT", "5")),
            lifecycle_events=env.get("RELAYFLOW_LIFECYCLE_EVENTS", "workflow"),
            timer_dlq_arn=env.get("RELAYFLOW_TIMER_DLQ_ARN", ""),
            action_modules=env.get("RELAYFLOW_ACTION_MODULES", ""),
            lambda_prefix=env.get("RELAYFLOW_LAMBDA_PREFIX", ""),
            http_allowed_networks=env.get("RELAYFLOW_HTTP_ALLOWED_NETWORKS", ""),
            events_include_input=env.get("RELAYFLOW_EVENTS_INCLUDE_INPUT", "false").lower() == "true",
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )

    def to_env(self) -> dict[str, str]:
        return {
            "RELAYFLOW_TABLE": self.table, "RELAYFLOW_TASK_QUEUE_URL": self.task_queue_url,
            "RELAYFLOW_EVENT_QUEUE_URL": self.event_queue_url, "RELAYFLOW_EVENT_QUEUE_ARN": self.event_queue_arn,
            "RELAYFLOW_EVENT_BUS": self.event_bus, "RELAYFLOW_SCHEDULE_GROUP": self.schedule_group,
            "RELAYFLOW_SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
            "RELAYFLOW_PAYLOAD_BUCKET": self.payload_bucket,
            "RELAYFLOW_RETENTION_DAYS": str(self.retention_days),
            "RELAYFLOW_MAX_RECEIVE_COUNT": str(self.max_receive_count), "AWS_DEFAULT_REGION": self.region,
            "RELAYFLOW_LIFECYCLE_EVENTS": self.lifecycle_events,
            "RELAYFLOW_TIMER_DLQ_ARN": self.timer_dlq_arn,
            "RELAYFLOW_ACTION_MODULES": self.action_modules, "RELAYFLOW_LAMBDA_PREFIX": self.lambda_prefix,
            "RELAYFLOW_HTTP_ALLOWED_NETWORKS": self.http_allowed_networks,
            "RELAYFLOW_EVENTS_INCLUDE_INPUT": "true" if self.events_include_input else "false",
        }
