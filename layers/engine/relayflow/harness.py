"""The in-memory stack: the engine on in-memory ports, a worker, and a pump.

The pump plays the roles a deployment gives to SQS, Lambda and the Scheduler:
it delivers dispatched attempts to the worker, completions to the engine, and
fires timers, jumping a virtual clock over every wait unless ``real_time``.
``Faults`` makes it deliver out of order, more than once and in batches, and
fire timers while messages wait, as SQS, Lambda and the Scheduler may.
"""
from __future__ import annotations

import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .actions.aws_lambda import LocalFunctions, register_lambda_action
from .actions.builtin import default_registry
from .actions.registry import ActionRegistry
from .actions.worker import run_attempt
from .adapters.memory import (
    MemoryBus,
    MemoryQueue,
    MemoryStore,
    MemoryTimers,
    MemoryWorkflows,
)
from .clock import SystemClock, VirtualClock
from .core import templates
from .core.loader import load_file
from .core.messages import ControlRequested, DispatchAttempt, Emit, Message
from .core.spec import WorkflowSpec
from .delivery import Delivery, Received
from .engine import Engine
from .ports import ExecutionEvent
from .service import Service
from .summary import ExecutionSummary

MAX_RECEIVES = 5  # as the deployed queues' maxReceiveCount


def _no_decoding(body: str) -> Message:
    raise TypeError("the memory stack's queues hold messages, not bodies")


@dataclass
class Faults:
    """Delivery faults, as SQS, Lambda and the Scheduler may produce them.

    ``reorder`` picks any queued message; ``duplicate`` redelivers a taken message with
    that probability, and always redelivers the first one, so every run under
    duplication meets at least one duplicate. ``batch`` hands the engine up to that
    many events of one execution in one step, as an SQS batch does. ``timer_race``
    lets a timer fire while messages wait in the queues, up to that many (virtual)
    seconds after the oldest of them was sent: a message's delivery latency.
    """

    reorder: bool = False
    duplicate: float = 0.0
    seed: int = 0
    batch: int = 1
    timer_race: float = 0.0


class MemoryStack:
    """The in-memory stack: every service an in-process twin, one virtual clock, delivery faults
    on demand (duplicates, reordering, batches, racing timers). ``local.stack.EmbeddedStack`` is
    the other ``stacks.Stack``: the same handlers on moto."""

    engine_class: type[Engine] = Engine  # a test double may extend the engine (relayflow test's mocks)

    def __init__(self, registry: ActionRegistry | None = None, real_time: bool = False,
                 faults: Faults | None = None, limits: templates.Limits | None = None,
                 seed: int | None = None, keep_events: bool = True, defer_start: bool = False):
        self.registry = registry or default_registry()
        self.functions = LocalFunctions()  # what aws.lambda invokes here
        register_lambda_action(self.registry, self.functions)
        self.store = MemoryStore()
        self.workflows = MemoryWorkflows()
        self.task_queue = MemoryQueue()
        self.event_queue = MemoryQueue()
        self.timers = MemoryTimers()
        self.bus = MemoryBus()
        self.bus.keep = keep_events
        self.real_time = real_time
        self.clock: VirtualClock | SystemClock = SystemClock() if real_time else VirtualClock()
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        counter = iter(range(1, 1 << 62))
        new_id = (lambda: f"ex-{next(counter):06d}") if seed is not None else None
        # With ``defer_start`` started as on AWS: the head is written and a start message
        # queued, which the delivery layer applies like any other event.
        self.engine = self.engine_class(self.store, self.workflows, self.task_queue, self.event_queue, self.timers,
                             self.bus, self.clock, limits=limits, rng=random.Random(seed), new_id=new_id,
                             defer_start=defer_start)
        self.delivery = Delivery(self.engine, _no_decoding, MAX_RECEIVES, runner=lambda cmd: self.execute(cmd))
        self.dead_letters: list[Message] = []  # messages given up after MAX_RECEIVES deliveries
        self._received: dict[int, tuple[Message, str, int]] = {}  # id(message) -> (it, message id, receives)
        self._ids = iter(range(1, 1 << 62))
        self.deliveries = 0
        self.duplicates = 0  # deliveries of a message that was delivered before
        self._copies: Counter[int] = Counter()  # queued extra copies, by id of the message object
        self._duplicated = False
        self.batches = 0  # steps that handed the engine more than one event
        self.timer_races = 0  # timers fired while messages were still queued
        self._sent_at: dict[int, tuple[float, Message]] = {}  # queued message -> (sent at, the message)
        self.service = Service(self.engine, self.store, self.workflows, self.event_queue, self.clock,
                               self.registry)

    # -- set-up ------------------------------------------------------------------
    def execute(self, cmd: DispatchAttempt) -> ExecutionEvent | None:
        """The worker: run one attempt. Test doubles override this to script outcomes (None: the
        outcome comes later, another way)."""
        return run_attempt(self.registry, cmd)

    def close(self) -> None:
        """Nothing to release: the stack is plain objects."""

    def register(self, spec: WorkflowSpec) -> str:
        return self.workflows.register(spec)

    def register_file(self, path: str) -> WorkflowSpec:
        spec = load_file(path)
        self.register(spec)
        return spec

    def subscribe(self, fn: Callable[[Emit], None]) -> None:
        self.bus.subscribers.append(fn)

    # -- driving -------------------------------------------------------------------
    def start(self, workflow: str, input: Any = None, execution_id: str | None = None) -> str:
        return self.engine.start(workflow, input, execution_id=execution_id)

    def control(self, execution_id: str, action: str, reason: str | None = None) -> None:
        self.event_queue.send(ControlRequested(execution_id, action, reason))

    def run(self, workflow: str, input: Any = None, max_deliveries: int | None = None) -> ExecutionSummary:
        eid = self.start(workflow, input)
        self.pump(max_deliveries=max_deliveries)
        return self.engine.describe(eid)

    def describe(self, execution_id: str) -> ExecutionSummary:
        return self.engine.describe(execution_id)

    def _take(self, queue: deque[Message]) -> Message:
        i = self._rng.randrange(len(queue)) if self.faults.reorder and len(queue) > 1 else 0
        return self._pop(queue, i)

    def _pop(self, queue: deque[Message], i: int) -> Message:
        """Remove and return the ``i``-th queued message, maybe queueing a duplicate of it."""
        queue.rotate(-i)
        msg = queue.popleft()
        queue.rotate(i)
        copies = self._copies.pop(id(msg), 0)  # a queued copy holds the object: its id is not reused
        if copies:
            self.duplicates += 1
            if copies > 1:
                self._copies[id(msg)] = copies - 1
        if self.faults.duplicate and (self._rng.random() < self.faults.duplicate or not self._duplicated):
            self._duplicated = True
            self._copies[id(msg)] += 1
            queue.insert(self._rng.randrange(len(queue) + 1), msg)
        return msg

    def _more_of(self, queue: deque[Message], first: Message) -> list[Message]:
        """Up to ``batch - 1`` more messages of ``first``'s execution, in queue order."""
        eid = getattr(first, "execution_id", None)
        batch = [first]
        while len(batch) < self.faults.batch and eid is not None:
            i = next((i for i, m in enumerate(queue) if getattr(m, "execution_id", None) == eid), None)
            if i is None or any(queue[i] is m for m in batch):  # a copy of a batched message waits
                break
            batch.append(self._pop(queue, i))
        return batch[1:]

    def _race_timer(self) -> bool:
        """With messages queued, maybe fire a timer due within their latency window."""
        queued = [*self.task_queue.messages, *self.event_queue.messages]
        now = self.clock.now()
        for msg in queued:  # sent since the last look: sent now (the clock moves only here and in step)
            self._sent_at.setdefault(id(msg), (now, msg))
        live = {id(m) for m in queued}
        for key in [k for k in self._sent_at if k not in live]:
            del self._sent_at[key]
        oldest = min(at for at, _ in self._sent_at.values())
        due = self.timers.next_due()
        if due is None or due > oldest + self.faults.timer_race or self._rng.random() < 0.5:
            return False
        self.timer_races += 1
        self._fire_timers(due)
        return True

    def _fire_timers(self, due: float) -> None:
        if self.real_time:
            time.sleep(max(0.0, due - self.clock.now()))
        else:
            assert isinstance(self.clock, VirtualClock)
            self.clock.advance_to(max(due, self.clock.now()))
        for timer in self.timers.pop_due(self.clock.now()):
            self.event_queue.send(Message.from_dict(timer.event))

    def _receive(self, message: Message, group: str) -> Received:
        """The message as a transport hands it over: the same id on every delivery of it."""
        _, mid, receives = self._received.get(id(message), (message, f"m-{next(self._ids)}", 0))
        self._received[id(message)] = (message, mid, receives + 1)
        return Received(mid, message, group, receives + 1)

    def _settle(self, queue: deque[Message], message: Message, failed: bool) -> None:
        """Delete a handled message, or hand a failed one back at the head of its queue (FIFO)
        until its deliveries run out, then park it as a dead letter."""
        receives = self._received[id(message)][2]
        if failed and receives < MAX_RECEIVES:
            queue.appendleft(message)
            return
        if failed:
            self.dead_letters.append(message)
        if not self.faults.duplicate:  # a duplicate may still be queued: it keeps its id
            del self._received[id(message)]

    def step(self) -> bool:
        """Deliver one message or fire due timers; False when there is nothing left to do."""
        tasks, events = self.task_queue.messages, self.event_queue.messages
        if tasks or events:
            if self.faults.timer_race and self._race_timer():
                return True
            use_tasks = bool(tasks) and (not events or not self.faults.reorder or self._rng.random() < 0.5)
            self.deliveries += 1
            queue = tasks if use_tasks else events
            message = self._take(queue)
            if use_tasks:
                group = message.idempotency_key if isinstance(message, DispatchAttempt) else ""
                report = self.delivery.work([self._receive(message, group)])
            else:
                batch = [message, *(self._more_of(events, message) if self.faults.batch > 1 else [])]
                self.batches += len(batch) > 1
                report = self.delivery.advance([self._receive(m, getattr(m, "execution_id", "")) for m in batch])
                failed = set(report.failed)
                for m in reversed(batch):  # failed ones go back to the queue's head in their order
                    self._settle(queue, m, self._received[id(m)][1] in failed)
                return True
            self._settle(queue, message, bool(report.failed))
            return True
        due = self.timers.next_due()
        if due is None:
            return False
        self._fire_timers(due)
        return True

    def drain(self) -> None:
        """Deliver every queued message, firing no timer: the moment before the clock moves."""
        while self.task_queue.messages or self.event_queue.messages:
            self.step()

    def pump(self, max_deliveries: int | None = None) -> None:
        """Run until nothing is queued and no timer is pending."""
        while self.step():
            if max_deliveries is not None and self.deliveries >= max_deliveries:
                raise RuntimeError(f"gave up after {max_deliveries} deliveries")
