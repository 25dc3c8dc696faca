"""Two adjustments to moto, in-process, that the embedded stack needs and AWS does not.

* **Sending stays O(1) per message.** moto's ``Queue.attributes`` computes every
  attribute, the three ``ApproximateNumberOfMessages*`` counts included, by
  walking every message in the queue and reading the clock for each; and
  ``send_message`` reads ``attributes`` four times to learn whether the queue
  uses content-based deduplication. Sending n messages to a queue holding n
  therefore cost O(n²): 500 uncapped ``with_items`` items took over a minute
  where 10-at-a-time took seconds. ``receive_message`` reads them too, once per
  message received (for the retention period). While a message is sent or
  received the counts (which neither uses) answer 0 instead of being counted;
  everywhere else (``GetQueueAttributes``) they are counted as before. The
  attribute names' conversion to Python names, a pure function moto repeats for
  every attribute of every such read, is cached.
* **One moto request at a time.** moto's backends are plain dicts and lists with
  no locking. ``relayflow serve`` answers API requests on their own threads
  while the pump runs the handlers on another, as Lambda would run them side by
  side; each request to moto is made whole under one process-wide lock, so a
  thread waits at most for another's single AWS call, never for its handler. The
  lock is granted in arrival order: with a plain lock the pump, releasing and
  taking it again between its back-to-back calls, could keep a request waiting
  for seconds.

Both are applied once per process and change nothing moto answers.
"""
from __future__ import annotations

import functools
import threading
from collections import deque
from typing import Any

_applied = False
_sending = threading.local()


class FairLock:
    """A re-entrant lock granted to waiting threads in the order they asked for it."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._queue: deque[int] = deque()

    def acquire(self) -> bool:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            self._queue.append(me)
            while self._owner is not None or self._queue[0] != me:
                self._cond.wait()
            self._queue.popleft()
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a lock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


MOTO_LOCK = FairLock()  # re-entrant: a moto backend may call another in-process
_COUNTS = ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
           "approximate_number_of_messages_not_visible")


def apply() -> None:
    """Install both adjustments (idempotent)."""
    global _applied
    if _applied:
        return
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.sqs import models

    models.camelcase_to_underscores = functools.lru_cache(maxsize=512)(models.camelcase_to_underscores)
    for name in _COUNTS:
        counted = getattr(models.Queue, name)

        def count(self: Any, _counted: Any = counted) -> int:
            return 0 if getattr(_sending, "active", False) else _counted.fget(self)

        setattr(models.Queue, name, property(count))

    for name in ("send_message", "send_message_batch", "receive_message"):
        original = getattr(models.SQSBackend, name)

        @functools.wraps(original)
        def sending(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            outer = getattr(_sending, "active", False)
            _sending.active = True
            try:
                return _original(self, *args, **kwargs)
            finally:
                _sending.active = outer

        setattr(models.SQSBackend, name, sending)

    dispatch = BotocoreStubber.__call__

    @functools.wraps(dispatch)
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with MOTO_LOCK:
            return dispatch(self, *args, **kwargs)

    BotocoreStubber.__call__ = serialised  # type: ignore[method-assign]
    _applied = True
