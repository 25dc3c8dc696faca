"""Events the conductor consumes and commands it produces.

Both are plain data with ``to_dict``/``from_dict`` so any transport (an
in-memory queue, SQS, a Scheduler payload) can carry them unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


class Message:
    kind: ClassVar[str]
    registry: ClassVar[dict[str, type[Message]]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        Message.registry[cls.kind] = cls

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}  # type: ignore[call-overload]

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Message:
        try:
            cls = Message.registry[data["kind"]]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown message kind: {data.get('kind') if isinstance(data, dict) else data!r}") from None
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names - {"kind"}
        if unknown:
            raise ValueError(f"{cls.kind}: unknown fields {sorted(unknown)}")
        return cls(**{k: v for k, v in data.items() if k != "kind"})


# -- events ------------------------------------------------------------------

@dataclass
class AttemptFinished(Message):
    """An attempt of a unit ended (worker, sleep timer, child workflow, callback)."""

    kind: ClassVar[str] = "attempt_finished"
    execution_id: str
    task: str
    run: int
    unit: int
    attempt: int
    status: str  # succeeded | failed | timed_out
    result: Any = None
    error: dict[str, Any] | None = None
    usage: dict[str, float] | None = None  # the requests the worker made for it (relayflow.usage)


@dataclass
class TimerFired(Message):
    kind: ClassVar[str] = "timer_fired"
    execution_id: str
    timer: str  # retry | timeout | workflow_timeout
    task: str | None = None
    run: int = 0
    unit: int = 0
    attempt: int = 0


@dataclass
class ControlRequested(Message):
    kind: ClassVar[str] = "control"
    execution_id: str
    action: str  # pause | resume | cancel; fail (a poison message), stuck (the reconciler)
    reason: str | None = None
    request_id: str | None = None  # tells two identical requests apart for deduplicating transports


@dataclass
class CallbackReceived(Message):
    """A callback token was used (a callback task's external system, or an inquiry's answer)."""

    kind: ClassVar[str] = "callback"
    execution_id: str
    token: str
    status: str  # succeeded | failed
    result: Any = None
    error: dict[str, Any] | None = None
    # The door it came through: "inquiry" (POST /inquiries/{id}/respond, the only way to answer a
    # core.ask) or "callback" (the callback API, the only way to end a callback: true task).
    via: str = "callback"
    by: str | None = None  # who answered: the IAM principal on AWS, the local user otherwise


@dataclass
class RedriveRequested(Message):
    """Run a failed execution again from its failed task runs, keeping what succeeded."""

    kind: ClassVar[str] = "redrive"
    execution_id: str
    request_id: str | None = None


@dataclass
class StartRequested(Message):
    """Start an execution whose head is written (the deferred half of ``Engine.start``)."""

    kind: ClassVar[str] = "start"
    execution_id: str


@dataclass
class SweepRequested(Message):
    """Give the execution's records the expiry its status calls for, a page at a time:
    the finished one's retention, or none while it runs (after a redrive). ``after`` is
    the sort key the previous page ended at."""

    kind: ClassVar[str] = "sweep"
    execution_id: str
    after: str | None = None


@dataclass
class ReconcileRequested(Message):
    """The execution is past its deadline: send the last step's commands again (each is
    idempotent), in case they were lost when the process that committed it died."""

    kind: ClassVar[str] = "reconcile"
    execution_id: str
    deadline: float | None = None  # the deadline that passed (a later step makes this moot)
    # the reconciler found it waiting only on the outside (a person, a callback, a child):
    # nothing to re-send; the stale deadline is dropped so later runs need not look again
    waiting: bool = False


# -- commands ----------------------------------------------------------------

def attempt_key(execution_id: str, task: str, run: int, unit: int, attempt: int) -> str:
    """The one spelling of an attempt's address: the task queue's group, the worker's claim and
    the action's idempotency key all use it."""
    return f"{execution_id}:{task}:{run}:{unit}:{attempt}"


@dataclass
class DispatchAttempt(Message):
    """Run one attempt of an action in a worker."""

    kind: ClassVar[str] = "dispatch"
    execution_id: str
    workflow: str
    task: str
    run: int
    unit: int
    attempt: int
    action: str
    input: Any
    callback: bool = False
    callback_token: str | None = None

    @property
    def idempotency_key(self) -> str:
        return attempt_key(self.execution_id, self.task, self.run, self.unit, self.attempt)


@dataclass
class StartTimer(Message):
    kind: ClassVar[str] = "start_timer"
    key: str
    due: float
    event: dict[str, Any]


@dataclass
class CancelTimer(Message):
    kind: ClassVar[str] = "cancel_timer"
    key: str


@dataclass
class StartChild(Message):
    kind: ClassVar[str] = "start_child"
    execution_id: str  # the child's id, derived from the parent's unit so a retry is a no-op
    workflow: str
    input: Any
    parent: dict[str, Any] = field(default_factory=dict)


@dataclass
class SendEvent(Message):
    """Deliver an event to an execution (a parent's completion, a child's control)."""

    kind: ClassVar[str] = "send_event"
    event: dict[str, Any]


@dataclass
class OpenInquiry(Message):
    """A ``core.ask`` task is waiting for a person: record the question."""

    kind: ClassVar[str] = "open_inquiry"
    inquiry: dict[str, Any]


@dataclass
class CloseInquiry(Message):
    kind: ClassVar[str] = "close_inquiry"
    id: str
    status: str  # answered | timed_out | cancelled


@dataclass
class Emit(Message):
    """A lifecycle event for the event bus."""

    kind: ClassVar[str] = "emit"
    type: str  # workflow.started, task.succeeded, ...
    detail: dict[str, Any]
