"""A re-entrant lock that serves API requests before the pump, and says how long each thread waited.

``relayflow serve`` answers each HTTP request on its own thread while the pump
runs the Lambda handlers on others. Both go through one lock: moto's (each AWS
call made whole, ``local.moto_tuning``) or, on the memory backend, the stack's
(a whole pump step). Granted in plain arrival order, a request waits behind
every call of the pump queued before it. Here a thread inside ``urgent()`` (an
API request) is granted the lock before any other thread waiting for it, so each
time a request asks it waits at most for the one call in progress; the other
threads are served in the order they asked. A holder that must wait on
something outside (the memory backend's pump running an action) steps out with
``released()``.

A thread may also take it shared (``acquire(shared=True)``): readers hold it
together, beside each other, and a writer waits until none is left. On moto the
pump's reads of a big run (one Query of 1,000 item records held the lock for
seconds) then no longer hold up a request's reads.

Every wait is added to the waiting thread's own tally (``take_waits``), so a
request can say how long it waited and for which lock; a benchmark can also
have every hold recorded (``holds``) to see which calls kept the lock longest.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

_local = threading.local()


def take_waits() -> dict[str, float]:
    """Seconds this thread waited, per lock name, since the last call (and reset)."""
    waits: dict[str, float] = getattr(_local, "waits", None) or {}
    _local.waits = {}
    return waits


def _add_wait(name: str, seconds: float) -> None:
    waits = getattr(_local, "waits", None)
    if waits is None:
        waits = _local.waits = {}
    waits[name] = waits.get(name, 0.0) + seconds


class PriorityLock:
    def __init__(self, name: str = "lock") -> None:
        self.name = name
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._readers: dict[int, int] = {}  # thread -> depth, while held shared
        self._queue: deque[int] = deque()  # others, in the order they asked
        self._urgent_queue: deque[int] = deque()  # urgent threads waiting, in the order they asked
        self._taken: dict[int, tuple[float, str]] = {}
        # (taken, released, thread name, label) of every hold, when a benchmark sets a list here
        self.holds: list[tuple[float, float, str, str]] | None = None

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        """Mark this thread's work as a request's: its waits for this lock are served first."""
        outer = getattr(_local, "urgent", None)
        _local.urgent = self
        try:
            yield
        finally:
            _local.urgent = outer

    def _may_take(self, me: int, urgent: bool, shared: bool) -> bool:
        if self._owner is not None or (self._readers and not shared):
            return False
        if urgent:
            return self._urgent_queue[0] == me
        return not self._urgent_queue and self._queue[0] == me

    def acquire(self, label: str = "", shared: bool = False) -> bool:
        """Take the lock (``shared``: beside other readers); re-entrant, in the mode first taken."""
        me = threading.get_ident()
        urgent = getattr(_local, "urgent", None) is self
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if me in self._readers:
                self._readers[me] += 1
                return True
            queue = self._urgent_queue if urgent else self._queue
            queue.append(me)
            began, waited = time.perf_counter(), False
            while not self._may_take(me, urgent, shared):
                waited = True
                self._cond.wait()
            queue.popleft()
            if shared:
                self._readers[me] = 1
                self._cond.notify_all()  # the next in line may be a reader too
            else:
                self._owner, self._depth = me, 1
            self._taken[me] = (time.perf_counter(), label)
        if waited:
            _add_wait(self.name, time.perf_counter() - began)
        return True

    def release(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth -= 1
                if self._depth:
                    return
                self._owner = None
            elif me in self._readers:
                self._readers[me] -= 1
                if self._readers[me]:
                    return
                del self._readers[me]
            else:
                raise RuntimeError("release of a lock this thread does not hold")
            self._cond.notify_all()
            taken, label = self._taken.pop(me)
            if self.holds is not None:
                self.holds.append((taken, time.perf_counter(), threading.current_thread().name, label))

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Let the others in while this thread works outside what the lock guards (an action's
        run), then take it back as it was held; a no-op for a thread that does not hold it alone."""
        me = threading.get_ident()
        with self._cond:
            depth = self._depth if self._owner == me else 0
            if depth:
                self._depth = 1
        if not depth:
            yield
            return
        self.release()
        try:
            yield
        finally:
            self.acquire()
            with self._cond:
                self._depth = depth

    def __enter__(self) -> PriorityLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
