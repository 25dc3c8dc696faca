"""The lock that makes each moto request whole, and serves API requests first (relayflow.priority_lock)."""
from __future__ import annotations

import threading
import time

import pytest

from relayflow.priority_lock import PriorityLock as FairLock
from relayflow.priority_lock import take_waits


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


def _waiting_in(queue) -> None:
    deadline = time.monotonic() + 10
    while not queue:  # the thread is waiting (no sleep: it shows in the queue)
        assert time.monotonic() < deadline, "the thread never waited for the lock"


def test_a_request_is_granted_before_the_pump_even_if_the_pump_asked_first():
    lock = FairLock()
    order: list[str] = []
    lock.acquire()  # another call of the pump holds it

    def pump() -> None:
        with lock:
            order.append("pump")

    def request() -> None:
        with lock.urgent(), lock:
            order.append("request")

    p = threading.Thread(target=pump, daemon=True)
    p.start()
    _waiting_in(lock._queue)
    r = threading.Thread(target=request, daemon=True)
    r.start()
    _waiting_in(lock._urgent_queue)
    lock.release()
    r.join(5)
    p.join(5)
    assert order == ["request", "pump"]


def test_each_thread_is_told_how_long_it_waited_for_which_lock():
    lock = FairLock("moto")
    take_waits()
    with lock:  # free: no wait
        pass
    assert take_waits() == {}
    lock.acquire()
    waited: dict[str, float] = {}

    def other() -> None:
        take_waits()
        with lock:
            pass
        waited.update(take_waits())

    t = threading.Thread(target=other, daemon=True)
    t.start()
    _waiting_in(lock._queue)
    lock.release()
    t.join(5)
    assert set(waited) == {"moto"} and waited["moto"] > 0
    assert take_waits() == {}  # the wait is the other thread's, not this one's


def test_readers_share_it_and_a_writer_waits_for_every_reader():
    lock = FairLock()
    lock.acquire(shared=True)  # the pump's long read
    read = threading.Event()
    wrote = threading.Event()

    def request_read() -> None:
        lock.acquire(shared=True)
        read.set()
        lock.release()

    def pump_write() -> None:
        with lock:
            wrote.set()

    threading.Thread(target=request_read, daemon=True).start()
    assert read.wait(10)  # beside the read in progress, not after it
    threading.Thread(target=pump_write, daemon=True).start()
    _waiting_in(lock._queue)
    assert not wrote.is_set() and lock._owner is None
    lock.release()
    assert wrote.wait(10)


def test_a_holder_steps_out_while_it_waits_on_something_else_and_comes_back_as_deep():
    lock = FairLock()
    lock.acquire()
    lock.acquire()  # held twice, as a step that re-enters it
    other = threading.Event()

    def request() -> None:
        with lock:
            other.set()

    with lock.released():  # the pump running an action
        threading.Thread(target=request, daemon=True).start()
        assert other.wait(10)  # got in while the holder was out
    assert lock._owner == threading.get_ident() and lock._depth == 2
    lock.release()
    lock.release()
    with pytest.raises(RuntimeError, match="does not hold"):
        lock.release()
    with lock.released():  # not held: nothing to let go of
        assert lock._owner is None
