"""A local action (``local: true``): the attempt is a dispatch like a worker's, but it never
leaves the step. The engine runs it inside the step that made it (``relayflow.local_actions``:
the core stays pure, the runner is the engine's) and hands its ``AttemptFinished`` back to the
conductor in the same step; a dispatch the step has no time or room left for leaves as an
ordinary one, and a worker runs it."""
from __future__ import annotations

from .action import ActionUnit

__all__ = ["LocalUnit"]


class LocalUnit(ActionUnit):
    name = "local"
