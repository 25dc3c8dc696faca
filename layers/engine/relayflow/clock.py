"""The clocks the engine reads (``ports.Clock``): the system's, and a virtual one that moves only when told.

The engine, the stores and the timers take a clock rather than calling ``time.time()``, so the
memory stack and the embedded stack can run a day-long wait in no time and tests can stand
still at an instant of their choosing.
"""
from __future__ import annotations

import time

__all__ = ["SystemClock", "VirtualClock"]


class SystemClock:
    """Wall-clock seconds since the epoch (what Lambda and the Scheduler see)."""

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """A clock that only moves when told to: waits cost nothing."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.t = start

    def now(self) -> float:
        return self.t

    def advance_to(self, t: float) -> None:
        self.t = max(self.t, t)
