"""What the conductor tells an observer as it works: the hook ``relayflow test`` measures
coverage with, and a place for tracing. The conductor calls its listener synchronously,
in the order things happen within a step; a listener only observes (it must not change
the records it is shown). :class:`Listener` is the no-op default; override what you need.
"""
from __future__ import annotations

from typing import Any

from .records import TaskRun, Unit

__all__ = ["Listener", "NO_LISTENER"]


class Listener:
    def run_started(self, run: TaskRun) -> None:
        """A task run started (status running), before its ``when`` is evaluated."""

    def run_finished(self, run: TaskRun) -> None:
        """A task run ended; ``run.status`` says how (succeeded, failed, timed_out, skipped, cancelled)."""

    def guard_evaluated(self, run: TaskRun, where: str, expr: Any, value: bool) -> None:
        """A condition was evaluated for ``run``: ``where`` is ``when`` (the task's own), an entry's
        ``ORIGIN.when``, a decision branch's ``decision[I].when`` or ``retry.on_error``."""

    def transition_taken(self, run: TaskRun, entry: str, kind: str, targets: tuple[str, ...]) -> None:
        """A transition entry of ``run``'s task was acted on once the run ended: ``entry`` is its
        origin (``next[0]``, ``on_success``, ``decision[1]`` for a branch), ``kind`` is ``do``
        (``targets`` were fired into), ``noop`` or ``fail``."""

    def item_started(self, run: TaskRun, unit: Unit) -> None:
        """A unit of a multi-unit run (a with_items item, a parallel sub-task) started."""

    def item_finished(self, run: TaskRun, unit: Unit) -> None:
        """A started unit of a multi-unit run ended; ``unit.status`` says how. (Units a cancelled
        run or a failing workflow never started end with the run, unreported.)"""


NO_LISTENER = Listener()
