"""A whole relayflow on one machine, behind one interface: what ``relayflow run``, ``relayflow
serve``, ``relayflow test`` and the tests drive.

Two stacks implement it:

- ``harness.MemoryStack``, the in-memory stack: every service an in-process twin, a virtual
  clock, delivery faults on demand (duplicates, reordering, batches, racing timers). Fastest;
  ``--backend memory``.
- ``local.stack.EmbeddedStack``, the embedded AWS stack: the real Lambda handlers on moto's
  DynamoDB, SQS, Scheduler and EventBridge, moved by a pump as Lambda's event sources would,
  with AWS's documented rules checked on every call. ``--backend local``, the default.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .core.messages import Emit
from .core.spec import WorkflowSpec
from .ports import StateStore, WorkflowRegistry
from .summary import ExecutionSummary

__all__ = ["Stack"]


class Stack(Protocol):
    @property
    def store(self) -> StateStore: ...

    @property
    def workflows(self) -> WorkflowRegistry: ...

    def register(self, spec: WorkflowSpec) -> str:
        """Register a definition; return its version."""

    def subscribe(self, fn: Callable[[Emit], None]) -> None:
        """Call ``fn`` with every lifecycle event the bus carries."""

    def start(self, workflow: str, input: Any = None, execution_id: str | None = None) -> str:
        """Start an execution as the start function does; return its id."""

    def step(self) -> bool:
        """Deliver one message (or fire due timers); False when nothing is left to do."""

    def pump(self, max_deliveries: int | None = None) -> None:
        """Step until nothing is left to do."""

    def describe(self, execution_id: str) -> ExecutionSummary: ...

    def run(self, workflow: str, input: Any = None, max_deliveries: int | None = None) -> ExecutionSummary:
        """Start ``workflow``, pump, and return the execution's summary."""

    def close(self) -> None:
        """Release what the stack holds (the embedded stack's moto mocks)."""
