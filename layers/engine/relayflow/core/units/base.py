"""The protocol every kind of unit implements, and what a kind may use of the conductor.

A *unit kind* says how one attempt of a unit starts, which events end it, what
commands it emits and how it is cancelled or timed out. The conductor keeps
everything the kinds share (attempt numbers, the timeout timer, retries, the
run's bookkeeping) and calls the unit's kind at five points, so a kind of unit is
one module under ``core/units/`` plus one line in ``core/units/__init__.py``.

Adding a kind (e.g. *local actions*, ``local: true``: the action runs inside the
advance step instead of being dispatched):

1. the loader accepts the field and the spec carries it (``TaskSpec``);
2. a module ``core/units/local.py`` with a class implementing :class:`UnitKind`:
   its ``begin`` runs the action through a runner the conductor is given (the core
   stays pure: the runner is passed in, like the clock) and ends the attempt at
   once with ``host.attempt_ended(run, unit, status, result, error)``;
   ``takes_outcome`` returns True (an outcome never arrives from a worker, but a
   redelivered one must still be checked like any other); ``attempt_ended`` and
   ``cancel`` have nothing to clean up;
3. register it in ``KINDS`` and teach ``kind_for`` when to pick it (``spec.local``).
"""
from __future__ import annotations

from typing import Any, Protocol

from ..messages import CallbackReceived, Message
from ..records import Execution, TaskRun, Unit
from ..spec import TaskSpec
from ..status import AttemptStatus

__all__ = ["Address", "Host", "PlainKind", "UnitKind", "timer_key"]

Address = tuple[str, int, int, int]  # (task, run, unit, attempt): one attempt of one unit


def timer_key(execution_id: str, kind: str, task: str = "", run: int = 0, unit: int = 0, attempt: int = 0) -> str:
    return f"{execution_id}/{kind}/{task}/{run}/{unit}/{attempt}"


class Host(Protocol):
    """What a unit kind may use of the conductor."""

    head: Execution
    now: float
    commands: list[Message]

    def emit(self, type_: str, run: TaskRun | None = None, /, **detail: Any) -> None: ...
    def timer(self, key: str, delay: float, event: Message) -> None: ...
    def attempt_ended(self, run: TaskRun, unit: Unit, status: AttemptStatus, result: Any, error: Any,
                      retry: bool = True) -> None: ...


class UnitKind(Protocol):
    """One kind of unit. Every method is called with the unit's current records; a kind
    changes only the unit it is given and adds commands through ``host``."""

    name: str
    needs_token: bool  # the unit gets a callback token (``callback.token`` in its input templates)

    def input_problem(self, spec: TaskSpec, rendered: Any) -> str | None:
        """Why the rendered input cannot start this kind of unit (it then fails at once), or None."""

    def begin(self, host: Host, run: TaskRun, unit: Unit, spec: TaskSpec, at: Address) -> None:
        """Start attempt ``at`` (already numbered, its timeout timer set): emit its commands."""

    def takes_outcome(self, unit: Unit, status: AttemptStatus) -> bool:
        """Whether an ``AttemptFinished`` for the current attempt ends it (False: ignore it)."""

    def takes_callback(self, host: Host, run: TaskRun, unit: Unit, event: CallbackReceived) -> bool:
        """Whether a callback with the unit's own token ends it, through the door it came by; when
        it does, record that it was answered (events, commands) and return True."""

    def attempt_ended(self, host: Host, run: TaskRun, unit: Unit, status: AttemptStatus) -> None:
        """The current attempt ended with ``status``: tidy what it left outside (an inquiry, a child)."""

    def cancel(self, host: Host, run: TaskRun, unit: Unit) -> None:
        """The unit is cancelled (still running or waiting): stop what it started outside."""


class PlainKind:
    """The defaults a kind overrides: no token, any input, every outcome ends the attempt,
    no callback, nothing outside to tidy or cancel."""

    name = "plain"
    needs_token = False

    def input_problem(self, spec: TaskSpec, rendered: Any) -> str | None:
        return None

    def takes_outcome(self, unit: Unit, status: AttemptStatus) -> bool:
        return True

    def takes_callback(self, host: Host, run: TaskRun, unit: Unit, event: CallbackReceived) -> bool:
        return False

    def attempt_ended(self, host: Host, run: TaskRun, unit: Unit, status: AttemptStatus) -> None:
        return None

    def cancel(self, host: Host, run: TaskRun, unit: Unit) -> None:
        return None
