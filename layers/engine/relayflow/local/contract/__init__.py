"""The AWS contract of the embedded stack: AWS's documented request rules that moto skips.

moto accepts calls real AWS refuses (FIFO group ids of 200 characters, schedules
whose FIFO target cannot take them, 26-item batch writes, 300 KB event bus
requests...). Everything relayflow proves on the embedded stack would then
prove nothing about a deployment. So while a :class:`Contract` is active,
every botocore call in the process (boto3's clients, PynamoDB's own client,
the pump's) is checked first against the rules in the ``rules_*`` modules,
each of which cites the AWS page it comes from.

A breach raises :class:`ContractViolation`, a botocore ``ClientError`` carrying
the error code AWS would answer with, so the calling code meets what it would
meet on AWS; and it is recorded, so the embedded stack fails loudly at the end
of the step even when the calling code swallowed the error.

The hook is a ``before-parameter-build`` handler added to botocore's built-in
handlers, the way moto adds its own: every botocore session created after this
module is imported has it. It does nothing unless a contract is active.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore import handlers
from botocore.exceptions import ClientError

__all__ = ["Breach", "Contract", "ContractBreached", "ContractViolation", "QueueInfo", "activate", "active"]


@dataclass(frozen=True)
class Breach:
    rule: str      # e.g. "sqs.fifo-id-length"
    message: str   # what is wrong and where
    source: str    # the AWS page the rule comes from
    code: str = "ValidationException"  # the error code AWS answers with

    def __str__(self) -> str:
        return f"{self.rule}: {self.message} (AWS rule: {self.source})"


class ContractViolation(ClientError):
    """A call real AWS would refuse; raised in place of sending it to moto."""

    def __init__(self, breach: Breach, operation: str):
        self.breach = breach
        super().__init__({"Error": {"Code": breach.code, "Message": f"[aws contract] {breach}"},
                          "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class ContractBreached(AssertionError):
    """Raised by the embedded stack after a step in which a call broke the contract."""

    def __init__(self, breaches: list[tuple[str, Breach]]):
        self.breaches = breaches
        lines = "\n".join(f"  {op}: {b}" for op, b in breaches)
        super().__init__(f"{len(breaches)} call(s) broke AWS's rules (moto accepts them, AWS would not):\n{lines}")


@dataclass
class QueueInfo:
    name: str
    fifo: bool
    content_dedup: bool = False


@dataclass
class Contract:
    """The rules in force and what they found. ``guards`` are called before every call
    with (service, operation) and may raise (the pump uses one to cut off timed-out handlers)."""

    queues: dict[str, QueueInfo] = field(default_factory=dict)  # by queue name
    breaches: list[tuple[str, Breach]] = field(default_factory=list)
    calls: int = 0
    require_schedule_dlq: bool = True
    guards: list[Callable[[str, str], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def queue(self, url_or_arn: str) -> QueueInfo | None:
        """The queue a URL (…/account/name) or ARN (…:account:name) names, if it was created here."""
        name = url_or_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return self.queues.get(name)

    def check(self, service: str, operation: str, params: dict[str, Any]) -> None:
        for guard in list(self.guards):
            guard(service, operation)
        self.calls += 1
        checker = _CHECKERS.get(service)
        if checker is None:
            return
        breach = checker(operation, params, self)
        if breach is not None:
            with self._lock:
                self.breaches.append((f"{service}.{operation}", breach))
            raise ContractViolation(breach, operation)

    def take_breaches(self) -> list[tuple[str, Breach]]:
        with self._lock:
            found, self.breaches = self.breaches, []
        return found


Checker = Callable[[str, dict[str, Any], Contract], "Breach | None"]
_CHECKERS: dict[str, Checker] = {}
_active: Contract | None = None


def activate(contract: Contract | None) -> None:
    """Make ``contract`` the one every botocore call is checked against (None: none)."""
    global _active
    _active = contract


def active() -> Contract | None:
    return _active


def _before_parameter_build(params: dict[str, Any], model: Any, **_: Any) -> None:
    contract = _active
    if contract is not None:
        contract.check(model.service_model.service_name, model.name, params)


def _install() -> None:
    entry = ("before-parameter-build", _before_parameter_build)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)


def _register() -> None:
    from . import rules_dynamodb, rules_events, rules_lambda, rules_s3, rules_scheduler, rules_sqs
    _CHECKERS.update(sqs=rules_sqs.check, scheduler=rules_scheduler.check, dynamodb=rules_dynamodb.check,
                     events=rules_events.check, s3=rules_s3.check, **{"lambda": rules_lambda.check})


_install()
_register()
