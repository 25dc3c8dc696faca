"""EventBridge Scheduler request rules; moto validates none of them (and never fires a schedule).

Sources:
  CREATE  https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
  SQS     https://docs.aws.amazon.com/scheduler/latest/APIReference/API_SqsParameters.html
  RETRY   https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html
  DLQ     https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
  TYPES   https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
  QUOTAS  https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from . import Breach, Contract

CREATE = "EventBridge Scheduler API Reference, CreateSchedule"
SQS = "EventBridge Scheduler API Reference, SqsParameters"
RETRY = "EventBridge Scheduler API Reference, RetryPolicy"
DLQ = "EventBridge Scheduler User Guide, Configuring a schedule's dead-letter queue"
TYPES = "EventBridge Scheduler User Guide, Schedule types (one-time: at(yyyy-mm-ddThh:mm:ss))"
QUOTAS = "EventBridge Scheduler User Guide, Quotas (target input payload: 256 KB)"

INPUT_LIMIT = 262_144
_NAME = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9_-]+(\.fifo)?$")
_DLQ_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9_-]+$")


def _names(params: dict[str, Any], fields: tuple[str, ...]) -> Breach | None:
    for field in fields:
        value = params.get(field)
        if value is not None and not _NAME.match(value):
            return Breach("scheduler.name", f"{field} {value!r}: 1-64 of 0-9 a-z A-Z - _ .", CREATE)
    return None


def _expression(expr: str) -> Breach | None:
    if len(expr) > 256:
        return Breach("scheduler.expression", f"ScheduleExpression of {len(expr)} characters (at most 256)", CREATE)
    if expr.startswith(("rate(", "cron(")):
        return None
    match = _AT.match(expr)
    if not match:
        return Breach("scheduler.at-expression", f"ScheduleExpression {expr!r} is not at(yyyy-mm-ddThh:mm:ss)",
                      TYPES)
    try:
        dt.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return Breach("scheduler.at-expression", f"ScheduleExpression {expr!r} is not a real date and time", TYPES)
    return None


def _target(target: dict[str, Any], contract: Contract) -> Breach | None:
    arn, role = target.get("Arn", ""), target.get("RoleArn", "")
    if not arn or not role:
        return Breach("scheduler.target", "a target needs Arn and RoleArn", CREATE)
    if not _ROLE.match(role):
        return Breach("scheduler.role-arn", f"RoleArn {role!r} is not an IAM role ARN", CREATE)
    data = target.get("Input")
    if data is not None:
        size = len(data.encode("utf-8"))
        if size > INPUT_LIMIT:
            return Breach("scheduler.input-size", f"Target.Input is {size} bytes, over {INPUT_LIMIT}", QUOTAS)
        if not data:
            return Breach("scheduler.input-size", "Target.Input is empty (at least 1 character)", CREATE)
    retry = target.get("RetryPolicy") or {}
    age, attempts = retry.get("MaximumEventAgeInSeconds"), retry.get("MaximumRetryAttempts")
    if age is not None and not 60 <= age <= 86_400:
        return Breach("scheduler.retry-policy", f"MaximumEventAgeInSeconds {age} (60..86400)", RETRY)
    if attempts is not None and not 0 <= attempts <= 185:
        return Breach("scheduler.retry-policy", f"MaximumRetryAttempts {attempts} (0..185)", RETRY)
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dlq is None and contract.require_schedule_dlq:
        # relayflow's own rule, from the same page: without a DLQ a delivery that keeps
        # failing is dropped once the retry policy is spent, and nobody ever hears of it.
        return Breach("scheduler.dlq-configured", "the schedule has no DeadLetterConfig: a timer whose delivery "
                      "keeps failing would be lost silently", DLQ)
    if dlq is not None and not _DLQ_ARN.match(dlq):
        return Breach("scheduler.dlq-standard", f"DeadLetterConfig.Arn {dlq!r}: a schedule's dead-letter queue "
                      "is a standard SQS queue (FIFO queues are not supported)", DLQ)
    if ":sqs:" in arn:
        if not _SQS_ARN.match(arn):
            return Breach("scheduler.target", f"Target.Arn {arn!r} is not an SQS queue ARN", CREATE)
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group is not None and not 1 <= len(group) <= 128:
            return Breach("scheduler.sqs-group-length", f"SqsParameters.MessageGroupId is {len(group)} characters "
                          "(1..128)", SQS)
        if arn.endswith(".fifo"):
            if group is None:
                return Breach("scheduler.fifo-group-required",
                              f"the target {arn} is a FIFO queue: SqsParameters.MessageGroupId is required", SQS)
            queue = contract.queue(arn)
            if queue is not None and not queue.content_dedup:
                return Breach("scheduler.fifo-content-dedup",
                              f"the target {queue.name} is a FIFO queue without content-based deduplication: "
                              "the Scheduler sends no deduplication id, so every delivery would be refused", SQS)
    return None


def check(operation: str, params: dict[str, Any], contract: Contract) -> Breach | None:
    if operation in ("CreateScheduleGroup", "GetSchedule", "DeleteSchedule", "ListSchedules"):
        return _names(params, ("Name", "GroupName"))
    if operation not in ("CreateSchedule", "UpdateSchedule"):
        return None
    breach = _names(params, ("Name", "GroupName")) or _expression(params.get("ScheduleExpression", ""))
    if breach:
        return breach
    zone = params.get("ScheduleExpressionTimezone")
    if zone is not None:
        try:
            import zoneinfo
            zoneinfo.ZoneInfo(zone)
        except Exception:
            return Breach("scheduler.timezone", f"ScheduleExpressionTimezone {zone!r} is not a time zone", CREATE)
    window = params.get("FlexibleTimeWindow") or {}
    mode = window.get("Mode")
    if mode not in ("OFF", "FLEXIBLE"):
        return Breach("scheduler.flexible-window", f"FlexibleTimeWindow.Mode {mode!r} (OFF or FLEXIBLE)", CREATE)
    if mode == "FLEXIBLE" and not 1 <= window.get("MaximumWindowInMinutes", 0) <= 1440:
        return Breach("scheduler.flexible-window", "FLEXIBLE needs MaximumWindowInMinutes 1..1440", CREATE)
    if len(params.get("Description") or "") > 512:
        return Breach("scheduler.description", "Description over 512 characters", CREATE)
    if params.get("ActionAfterCompletion", "NONE") not in ("NONE", "DELETE"):
        return Breach("scheduler.action-after-completion", "ActionAfterCompletion is NONE or DELETE", CREATE)
    return _target(params.get("Target") or {}, contract)
