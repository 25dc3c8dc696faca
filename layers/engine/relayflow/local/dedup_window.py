"""SQS FIFO deduplication with AWS's five-minute window, on the embedded stack's clock.

AWS drops a FIFO message whose MessageDeduplicationId (or, with content-based
deduplication, whose body's SHA-256) was accepted in the last five minutes, whether
or not the first copy has been consumed since ("Exactly-once processing in Amazon
SQS", SQS Developer Guide: "the deduplication interval is 5 minutes"). moto only
compares with the messages still queued, so a dispatch re-sent after the worker
deleted the first copy would run again under moto and never on AWS. The engine
relies on the AWS behaviour, so the embedded stack gives moto the AWS window.

The window is measured on the stack's clock: a virtual clock that jumps over a
20-minute wait leaves the window behind, as the wait would on AWS. A clock set back
(a test starting a case at the epoch again) starts the window afresh.

moto's ``send_message`` is wrapped once per process; it consults the innermost open
stack's window (a stack opened inside another's life has its own), and does nothing
when none is open.
"""
from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

INTERVAL = 300.0  # seconds: SQS FIFO's deduplication interval

_windows: list[DedupWindow] = []
_lock = threading.Lock()
_installed = False


class DedupWindow:
    """The deduplication ids a stack's FIFO queues accepted, and when (on ``clock``)."""

    def __init__(self, clock: Callable[[], float], interval: float = INTERVAL):
        self.clock, self.interval = clock, interval
        self.accepted: dict[tuple[str, str], float] = {}
        self.dropped = 0  # duplicates dropped inside the window

    def admit(self, queue: str, dedup_id: str) -> bool:
        """Whether a message with ``dedup_id`` sent to ``queue`` now is accepted (and if so,
        the window of ``dedup_id`` starts now)."""
        now = self.clock()
        self._forget_before(now - self.interval)
        first = self.accepted.get((queue, dedup_id))
        if first is not None and 0 <= now - first < self.interval:
            self.dropped += 1
            return False
        self.accepted.pop((queue, dedup_id), None)  # re-inserted last: the dict stays in time order
        self.accepted[(queue, dedup_id)] = now
        return True

    def _forget_before(self, cutoff: float) -> None:
        """Drop the ids whose window closed before ``cutoff``, oldest first, so that a long
        ``serve`` keeps five minutes of ids, not all it ever sent (a clock set back stops it)."""
        while self.accepted:
            key, at = next(iter(self.accepted.items()))
            if at >= cutoff:
                return
            del self.accepted[key]

    def open(self) -> DedupWindow:
        _install()
        with _lock:
            _windows.append(self)
        return self

    def close(self) -> None:
        with _lock:
            if self in _windows:
                _windows.remove(self)


def _install() -> None:
    global _installed
    if _installed:
        return
    from moto.sqs import models

    original = models.SQSBackend.send_message
    signature = inspect.signature(original)

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        message = original(self, *args, **kwargs)
        window = _windows[-1] if _windows else None
        if window is None:
            return message
        bound = signature.bind(self, *args, **kwargs)
        queue_name = bound.arguments["queue_name"]
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue:
            return message
        dedup = getattr(message, "deduplication_id", None)  # the body's SHA-256 with content-based
        if dedup and not window.admit(queue_name, dedup):
            # moto queued it (the first copy was consumed already): AWS would not have
            with queue._messages_lock:
                queue._messages[:] = [m for m in queue._messages if m is not message]
        return message

    models.SQSBackend.send_message = send_message  # type: ignore[method-assign]
    _installed = True
