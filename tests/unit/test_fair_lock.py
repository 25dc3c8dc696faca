"""The lock that makes each moto request whole (relayflow.local.moto_tuning.FairLock)."""
from __future__ import annotations

import threading

import pytest

from relayflow.local.moto_tuning import FairLock


def test_it_is_granted_in_the_order_threads_asked_even_to_a_thread_taking_it_again():
    lock = FairLock()
    order: list[str] = []
    lock.acquire()  # "the pump" holds it
    queued = threading.Event()

    def request() -> None:
        queued.set()
        with lock:
            order.append("request")

    t = threading.Thread(target=request)
    t.start()
    queued.wait(5)
    while not lock._queue:  # the request is waiting (no sleep: it shows in the queue)
        pass
    lock.release()
    with lock:  # the pump asks again at once: it comes after the request that was waiting
        order.append("pump")
    t.join(5)
    assert order == ["request", "pump"]


def test_it_is_reentrant_and_refuses_a_release_by_another_thread():
    lock = FairLock()
    with lock:
        with lock:
            pass
        errors: list[Exception] = []

        def other() -> None:
            try:
                lock.release()
            except RuntimeError as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join(5)
        assert errors and "does not hold" in str(errors[0])
    assert lock._owner is None
    with pytest.raises(RuntimeError):
        lock.release()
