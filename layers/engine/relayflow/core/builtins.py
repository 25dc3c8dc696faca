"""The built-in actions, listed once: the loader validates ``core.*`` names and their
inputs against this manifest, the worker's action registry provides a function for
every entry the worker handles, and the conductor picks the unit kind that runs
each one (``core/units``).

Adding an engine-handled built-in is one entry here (``handled_by="engine"``, its
``unit_kind``) and one unit kind module; a worker-handled one is one entry here and
one function in ``relayflow.actions.builtin``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ASK", "BUILTINS", "BuiltinAction", "MANIFEST", "SLEEP", "builtin", "local_builtins", "may_run_locally",
           "worker_builtins"]

SLEEP = "core.sleep"
ASK = "core.ask"


@dataclass(frozen=True)
class BuiltinAction:
    name: str
    summary: str
    required: tuple[str, ...] = ()  # the input fields it cannot run without (checked at load)
    unit_kind: str = "action"  # the core/units kind that runs it
    handled_by: Literal["worker", "engine"] = "worker"  # engine: never dispatched to a worker
    local: bool = False  # answers at once and waits on nothing: may run inside the step (local: true)


MANIFEST: tuple[BuiltinAction, ...] = (
    BuiltinAction("core.noop", "does nothing; returns {}", local=True),
    BuiltinAction("core.echo", "returns its input", local=True),
    BuiltinAction("core.fail", "fails with input.message (or succeeds from input.succeed_on_attempt)", local=True),
    BuiltinAction("core.http", "one HTTP request", required=("url",)),
    BuiltinAction(SLEEP, "waits input.seconds on a timer", required=("seconds",), unit_kind="sleep",
                  handled_by="engine"),
    BuiltinAction(ASK, "asks a person and waits for the answer", unit_kind="ask", handled_by="engine"),
)

BUILTINS: dict[str, BuiltinAction] = {b.name: b for b in MANIFEST}


def builtin(name: str | None) -> BuiltinAction | None:
    return BUILTINS.get(name) if name is not None else None


def may_run_locally(action: str | None) -> bool:
    """Whether ``local: true`` may run ``action`` inside the step: a python: action (the
    declared modules' code) or a built-in that answers at once."""
    entry = builtin(action)
    return entry.local if entry is not None else bool(action) and str(action).startswith("python:")


def local_builtins() -> list[str]:
    return [b.name for b in MANIFEST if b.local]


def worker_builtins() -> list[str]:
    """The built-ins a worker runs, each of which the action registry must provide."""
    return [b.name for b in MANIFEST if b.handled_by == "worker"]
