"""Fault injection for the embedded stack: crashes at an AWS call, copies of messages,
worker bookkeeping, and the one piece of SQS behaviour moto does not model.

Everything here wraps the real stack from the outside (botocore, the handler table
``stack.handlers``, the delivery layer's ``run``); nothing in the
package is changed.
"""
from __future__ import annotations

import collections
import contextlib
import inspect
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

from relayflow.clock import VirtualClock
from relayflow.core.messages import DispatchAttempt

HANDLERS = ("start", "worker", "advance")


class Crash(ClientError):
    """The injected failure: an AWS call that failed for good (a 500 after botocore's retries).

    A ClientError, as botocore raises it, so every layer sees what it would see on AWS
    (PynamoDB wraps it in its PutError/GetError, the adapters' ClientError checks look
    at its code).
    """

    def __init__(self, operation: str, detail: str):
        super().__init__({"Error": {"Code": "InternalServerError", "Message": f"injected: {detail}"},
                          "ResponseMetadata": {"HTTPStatusCode": 500}}, operation)


class Die(BaseException):
    """The process died at an AWS call (Lambda timeout, out of memory): no handler code
    after that point runs, not even an ``except Exception``."""


# -- crashing at the k-th AWS call of one handler -------------------------------------

class CallInjector:
    """Counts the AWS calls each handler makes and fails one of them.

    ``botocore.client.BaseClient._make_api_call`` is patched for the injector's life
    (PynamoDB goes through it too). A call is counted only while a handler wrapped by
    :meth:`wrap` runs, under that handler's name; ``arm(handler, k)`` makes the k-th
    counted call of ``handler`` raise :class:`Crash` instead of reaching AWS, once.
    """

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.ops: dict[str, list[str]] = collections.defaultdict(list)
        self._local = threading.local()
        self._armed: tuple[str, Any] | None = None
        self.die = False  # raise Die (nothing in the handler catches it) instead of Crash
        self.fired: tuple[str, int, str] | None = None  # (handler, k, operation) of the crash
        self._original: Callable[..., Any] | None = None

    # installation
    def install(self) -> None:
        assert self._original is None
        original = self._original = botocore.client.BaseClient._make_api_call
        injector = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            injector._before(operation, params)
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None

    def __enter__(self) -> CallInjector:
        self.install()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.uninstall()

    # counting
    def _before(self, operation: str, params: dict[str, Any]) -> None:
        name = getattr(self._local, "handler", None)
        if name is None:
            return
        self.counts[name] += 1
        self.ops[name].append(operation)
        armed = self._armed
        if armed is None or armed[0] != name:
            return
        hit = armed[1] == self.counts[name] if isinstance(armed[1], int) else bool(armed[1](operation, params))
        if hit:
            self._armed = None
            self.fired = (name, self.counts[name], operation)
            detail = f"{name} handler, AWS call {self.counts[name]}"
            if self.die:
                raise Die(detail)
            raise Crash(operation, detail)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        local = self._local

        def handler(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(local, "handler", None)
            local.handler = name
            try:
                return fn(*args, **kwargs)
            except Die as exc:  # the invocation died: Lambda reports it failed, SQS redelivers all
                raise RuntimeError(f"invocation died: {exc}") from None
            finally:
                local.handler = outer

        handler.__wrapped__ = fn  # type: ignore[attr-defined]
        return handler

    def reset(self) -> None:
        self.counts.clear()
        self.ops.clear()
        self._armed = None
        self.fired = None
        self.die = False

    def arm(self, handler: str, k: int | Callable[[str, dict[str, Any]], bool], die: bool = False) -> None:
        """Fail ``handler``'s k-th AWS call, or its first call for which ``k(operation, params)``
        is true; ``die``: as a killed process would (no except clause in the handler runs)."""
        self.reset()
        self._armed = (handler, k)
        self.die = die


def wrap_handlers(stack: Any, injector: CallInjector) -> None:
    """Route the stack's start, worker and advance handlers through ``injector``."""
    for queue, (fn, batch) in list(stack.handlers.items()):
        name = {"task": "worker", "event": "advance"}[queue]
        stack.handlers[queue] = (injector.wrap(name, fn), batch)
    stack.start_handler = injector.wrap("start", stack.start_handler)


# -- what the worker ran ----------------------------------------------------------------

class WorkerLog:
    """Every action the worker ran: attempt key -> SQS message ids, one per run.

    A redelivery of the same SQS message keeps its message id; a dispatch sent twice
    (not deduplicated) shows up as a second message id for the same attempt.
    """

    def __init__(self) -> None:
        self.runs: dict[str, list[str]] = collections.defaultdict(list)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self, stack: Any) -> Iterator[WorkerLog]:
        delivery = stack.runtime.delivery
        original = delivery.run

        def run(command: DispatchAttempt, record: Any) -> Any:
            with self._lock:
                self.runs[command.idempotency_key].append(record.id)
            return original(command, record)

        delivery.run = run
        try:
            yield self
        finally:
            del delivery.run

    def clear(self) -> None:
        self.runs.clear()

    def keys(self, execution_prefix: str) -> dict[str, list[str]]:
        return {k: v for k, v in self.runs.items() if k.startswith(execution_prefix)}


@contextlib.contextmanager
def acks_lost_once(stack: Any, queue: str) -> Iterator[set[str]]:
    """The handler of ``queue`` succeeds but the first acknowledgement of every message is
    lost (the delete failed, the invocation timed out after its work): SQS delivers the
    same message, same id, again. Yields the ids seen."""
    fn, batch = stack.handlers[queue]
    seen: set[str] = set()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        out = fn(event, context) or {}
        failed = {f["itemIdentifier"] for f in out.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] not in seen:
                seen.add(record["messageId"])
                failed.add(record["messageId"])
        return {"batchItemFailures": [{"itemIdentifier": m} for m in sorted(failed)]}

    stack.handlers[queue] = (handler, batch)
    try:
        yield seen
    finally:
        stack.handlers[queue] = (fn, batch)


# -- SQS FIFO deduplication as AWS does it -------------------------------------------------

@contextlib.contextmanager
def fifo_dedup_window(seconds: float = 300.0) -> Iterator[None]:
    """Make moto deduplicate FIFO sends for ``seconds`` after the first send of an id.

    AWS drops a message whose MessageDeduplicationId was sent in the last five
    minutes, whether or not the first one has been consumed since; moto compares
    only with messages still in the queue, so a dispatch re-sent after the worker
    deleted the first copy would run again under moto and never on AWS. The engine
    relies on the AWS behaviour (DESIGN §3: a re-sent dispatch is deduplicated), so
    the tests give moto the AWS window.
    """
    from moto.sqs import models

    original = models.SQSBackend.send_message
    signature = inspect.signature(original)
    seen: dict[tuple[str, str], float] = {}
    lock = threading.Lock()

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        queue_name = bound.arguments["queue_name"]
        dedup = bound.arguments.get("deduplication_id")
        message = original(self, *args, **kwargs)
        if dedup:
            now = time.time()
            with lock:
                first = seen.get((queue_name, dedup))
                if first is not None and now - first < seconds:
                    queue = self.get_queue(queue_name)
                    with queue._messages_lock:
                        queue._messages[:] = [m for m in queue._messages if m is not message]
                else:
                    seen[(queue_name, dedup)] = now
        return message

    models.SQSBackend.send_message = send_message  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.SQSBackend.send_message = original  # type: ignore[method-assign]


# -- threads ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_aws() -> Iterator[None]:
    """Serialise moto's handling of each request, as an AWS service applies each call
    atomically; threads still interleave between calls. Moto makes no such promise
    (a conditional PutItem checks, then writes, in Python)."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def process_request(self: Any, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]


@contextlib.contextmanager
def runtime_per_thread(stack: Any) -> Iterator[Callable[[], Any]]:
    """Handlers called from a thread get a Runtime of their own (boto3 session, clients,
    store caches), as separate Lambda instances would; the main thread keeps the stack's.
    Yields ``fresh()``: give the calling thread a new Runtime and return it."""
    import functions.advance.app as advance
    import functions.worker.app as worker
    from relayflow.runtime import Runtime

    local = threading.local()
    main = threading.get_ident()
    building = threading.Lock()  # boto3 sessions and clients are built one at a time

    def fresh() -> Any:
        with building:
            local.runtime = Runtime(stack.settings, stack.clock, stack.runtime.actions)
        return local.runtime

    def get_runtime() -> Any:
        if threading.get_ident() == main:
            return stack.runtime
        return getattr(local, "runtime", None) or fresh()

    originals = (advance.get_runtime, worker.get_runtime)
    advance.get_runtime = worker.get_runtime = get_runtime
    try:
        yield fresh
    finally:
        advance.get_runtime, worker.get_runtime = originals


def sqs_event(stack: Any, queue: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS poller would hand the handler for ``messages`` (as the pump does)."""
    from relayflow.local import resources

    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody"), "eventSource": "aws:sqs",
        "eventSourceARN": stack.queue_arns[queue], "awsRegion": resources.REGION} for m in messages]}


def receive(stack: Any, queue: str, n: int) -> list[dict[str, Any]]:
    """Receive exactly ``n`` messages from ``queue`` (several receives if needed)."""
    out: list[dict[str, Any]] = []
    for _ in range(n + 2):
        if len(out) >= n:
            break
        out += stack.sqs.receive_message(QueueUrl=stack.queue_urls[queue], MaxNumberOfMessages=min(10, n - len(out)),
                                         MessageSystemAttributeNames=["All"]).get("Messages", [])
    assert len(out) == n, f"{queue}: received {len(out)} messages, expected {n}"
    return out


def settle(stack: Any, queue: str, messages: list[dict[str, Any]], result: Any) -> None:
    """What the event source mapping does after an invocation: delete the records that
    succeeded, make the failed ones visible again (all of them when the invocation raised)."""
    url = stack.queue_urls[queue]
    if isinstance(result, BaseException):
        failed = {m["MessageId"] for m in messages}
    else:
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] in failed:
            stack.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in one thread each, released together; their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            import traceback
            exc.formatted = traceback.format_exc()  # type: ignore[attr-defined]
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# -- the stack between cases ------------------------------------------------------------------

def fresh_case(stack: Any) -> None:
    """Start a case: the clock back at its epoch, the stack's lifecycle observer queue emptied.

    Once someone subscribed, the stack has an observer queue on the bus; left unread it
    grows by a few messages per task, and moto's SQS costs O(queue depth) per call.
    """
    stack.clock.t = VirtualClock().t
    while stack.observer_url is not None:
        msgs = stack.sqs.receive_message(QueueUrl=stack.observer_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return
        stack.sqs.delete_message_batch(QueueUrl=stack.observer_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])


def queue_depth(stack: Any, queue: str, dlq: bool = False) -> int:
    url = (stack.dlq_urls if dlq else stack.queue_urls)[queue]
    attrs = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def assert_idle(stack: Any) -> None:
    """Nothing queued, in flight or scheduled: a case starts from a quiet stack."""
    for queue in ("task", "event"):
        assert queue_depth(stack, queue) == 0, f"{queue} queue not empty"
    assert stack.pending_schedules() == [], "schedules left over"


def drain_dlqs(stack: Any) -> dict[str, list[str]]:
    """Empty both dead-letter queues; return the bodies they held."""
    out: dict[str, list[str]] = {}
    for queue, url in stack.dlq_urls.items():
        bodies = []
        while True:
            msgs = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                             MessageSystemAttributeNames=["All"]).get("Messages", [])
            if not msgs:
                break
            bodies += [m["Body"] for m in msgs]
            stack.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        out[queue] = bodies
    return out


def normalise(result: dict[str, Any], execution_id: str | None = None) -> str:
    """describe() as canonical JSON, with the execution id (and child ids built on it) masked."""
    eid = execution_id or result["execution_id"]
    text = json.dumps(result, sort_keys=True)
    return text.replace(eid, "<execution>")


def assert_runs_numbered(result: dict[str, Any]) -> None:
    """No run recorded twice: each task's runs are 1..n, no gaps, no repeats."""
    by_task: dict[str, list[int]] = collections.defaultdict(list)
    for t in result["tasks"]:
        by_task[t["name"]].append(t["run"])
    for task, runs in by_task.items():
        assert sorted(runs) == list(range(1, len(runs) + 1)), f"runs of {task}: {runs}"


# -- putting messages on queues ------------------------------------------------------------------

def send_raw(stack: Any, queue: str, body: str, group: str, dedup: str | None = None) -> None:
    """Put ``body`` on a FIFO queue as a producer would, with a fresh deduplication id."""
    stack.sqs.send_message(QueueUrl=stack.queue_urls[queue], MessageBody=body, MessageGroupId=group,
                           MessageDeduplicationId=dedup or uuid.uuid4().hex)


def kind_of(message: dict[str, Any]) -> str:
    """A message's kind as the tests name it: ``dispatch``, ``attempt_finished``, ``start``,
    ``timer_fired:retry`` (timeout, workflow_timeout), ``control:pause`` (resume, cancel)."""
    kind = message.get("kind", "?")
    if kind == "timer_fired":
        return f"timer_fired:{message.get('timer')}"
    if kind == "control":
        return f"control:{message.get('action')}"
    return kind


class Duplicator:
    """Watches every message entering the task and event queues (the handlers' sends, the
    pump's timer deliveries, control requests) and the timers created; copies those of the
    chosen kinds back onto their queue, same body and group, fresh deduplication id.

    ``delay`` 0 sends the copy right after the original (the next message of its group is
    the copy, as a FIFO redelivery is); ``delay`` d > 0 holds it for d pump steps
    (``release``). ``kinds`` empty: only record.
    """

    COPY = "COPY#"

    def __init__(self, kinds: set[str] | None = None, delay: int = 0):
        self.kinds = kinds or set()
        self.delay = delay
        self.sent: list[tuple[str, str, dict[str, Any], str]] = []  # (queue, group, message, body)
        self.scheduled: list[tuple[str, dict[str, Any], str]] = []  # (group, message, body) per schedule
        self.copies = 0
        self.pending: list[list[Any]] = []  # [steps left, queue, group, body]
        self._stack: Any = None
        self._original: Callable[..., Any] | None = None

    @contextlib.contextmanager
    def installed(self, stack: Any) -> Iterator[Duplicator]:
        original = self._original = botocore.client.BaseClient._make_api_call
        self._stack = stack
        url_to_queue = {url: q for q, url in stack.queue_urls.items()}
        dup = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            out = original(client, operation, params)
            queue = url_to_queue.get(params.get("QueueUrl", ""))
            if operation == "SendMessage" and queue:
                dup._seen(queue, params)
            elif operation == "SendMessageBatch" and queue:
                for entry in params["Entries"]:
                    dup._seen(queue, entry)
            elif operation == "CreateSchedule":
                body = params["Target"]["Input"]
                dup.scheduled.append((params["Target"]["SqsParameters"]["MessageGroupId"],
                                      json.loads(body)["m"], body))
            return out

        botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]

    def _seen(self, queue: str, params: dict[str, Any]) -> None:
        if str(params.get("MessageDeduplicationId", "")).startswith(self.COPY):
            return
        body, group = params["MessageBody"], params.get("MessageGroupId", "")
        message = json.loads(body)["m"]
        self.sent.append((queue, group, message, body))
        if kind_of(message) in self.kinds:
            if self.delay == 0:
                self.inject(queue, group, body)
            else:
                self.pending.append([self.delay, queue, group, body])

    def inject(self, queue: str, group: str, body: str) -> None:
        """Put a copy of ``body`` on ``queue`` (bypassing the watch)."""
        assert self._original is not None
        self._original(self._stack.sqs, "SendMessage", {
            "QueueUrl": self._stack.queue_urls[queue], "MessageBody": body, "MessageGroupId": group,
            "MessageDeduplicationId": self.COPY + uuid.uuid4().hex})
        self.copies += 1

    def release(self, all_: bool = False) -> bool:
        """One pump step passed: send the copies now due (all of them with ``all_``)."""
        due = [p for p in self.pending if all_ or p[0] <= 1]
        for p in self.pending:
            p[0] -= 1
        self.pending = [p for p in self.pending if p not in due]
        for _, queue, group, body in due:
            self.inject(queue, group, body)
        return bool(due)

    def drive(self, stack: Any, max_steps: int = 2000) -> None:
        """``stack.pump()`` that releases held copies as steps pass (all of them once idle)."""
        for _ in range(max_steps):
            progressed = stack.step()
            released = self.release(all_=not progressed)
            if not progressed and not released:
                return
        raise AssertionError(f"not idle after {max_steps} steps")

    def clear(self) -> None:
        self.sent.clear()
        self.scheduled.clear()
        self.pending.clear()
        self.copies = 0

    def find(self, kind: str, scheduled: bool = False) -> list[tuple[str, str, dict[str, Any], str]]:
        """(queue, group, message, body) of the messages of ``kind`` seen on the queues
        (``scheduled``: of the timers created, queue 'event')."""
        if scheduled:
            return [("event", g, m, b) for g, m, b in self.scheduled if kind_of(m) == kind]
        return [s for s in self.sent if kind_of(s[2]) == kind]


# -- the workflows the functional tests run ----------------------------------------------------------

WORKFLOWS: dict[str, str] = {
    # three tasks in a row, each publishing a variable the next one reads
    "sequence": """
name: t.sequence
tasks:
  - name: a
    action: core.echo
    input: {v: 1}
    publish: [{x: "{{ result().v }}"}]
    on_success: b
  - name: b
    action: core.echo
    input: {v: "{{ vars.x + 1 }}"}
    publish: [{y: "{{ result().v }}"}]
    on_success: c
  - name: c
    action: core.echo
    input: {v: "{{ vars.y + 1 }}"}
    publish: [{z: "{{ result().v }}"}]
output: {x: "{{ vars.x }}", y: "{{ vars.y }}", z: "{{ vars.z }}"}
""",
    # a fan-out of three into a join: all
    "join": """
name: t.join
tasks:
  - name: fan
    action: core.noop
    on_success: [b1, b2, b3]
  - name: b1
    action: core.echo
    input: {v: 1}
    publish: [{p1: "{{ result().v }}"}]
    on_success: merge
  - name: b2
    action: core.echo
    input: {v: 10}
    publish: [{p2: "{{ result().v }}"}]
    on_success: merge
  - name: b3
    action: core.echo
    input: {v: 100}
    publish: [{p3: "{{ result().v }}"}]
    on_success: merge
  - name: merge
    join: all
    action: core.echo
    input: {sum: "{{ vars.p1 + vars.p2 + vars.p3 }}"}
    publish: [{sum: "{{ result().sum }}"}]
output: {sum: "{{ vars.sum }}"}
""",
    # three items, item i succeeding on attempt i: retries (with a delay) per item
    "items": """
name: t.items
tasks:
  - name: each
    action: core.fail
    with_items: [1, 2, 3]
    input: {message: "item {{ item }} not yet", succeed_on_attempt: "{{ item }}", item: "{{ item }}"}
    retry: {count: 3, delay: 2}
    publish: [{items: "{{ result() | map(attribute='item') | list }}"}]
output: {items: "{{ vars.items }}"}
""",
    # a child workflow, then a task using its output
    "nested": """
name: t.nested
tasks:
  - name: call
    workflow: t.child
    input: {n: 21}
    publish: [{answer: "{{ result().d }}"}]
    on_success: after
  - name: after
    action: core.echo
    input: {answer: "{{ vars.answer }}"}
output: {answer: "{{ vars.answer }}"}
""",
    # a sleep longer than its timeout, the timeout handled by on_timeout
    "timeout": """
name: t.timeout
tasks:
  - name: slow
    action: core.sleep
    input: {seconds: 30}
    timeout: 5
    on_timeout: recover
  - name: recover
    action: core.echo
    input: {was: "{{ task.slow.status }}"}
    publish: [{was: "{{ result().was }}"}]
output: {was: "{{ vars.was }}"}
""",
}

# workflows for timers and control, not swept by test_crash
MORE_WORKFLOWS: dict[str, str] = {
    # a sleep that completes (its timer delivers the attempt's completion)
    "sleep": """
name: t.sleep
tasks:
  - name: nap
    action: core.sleep
    input: {seconds: 3}
    on_success: after
  - name: after
    action: core.echo
    input: {slept: "{{ task.nap.result.slept }}"}
output: {slept: "{{ task.after.result.slept }}"}
""",
    # the workflow-level timeout ends it while a task sleeps
    "wf_timeout": """
name: t.wf_timeout
timeout: 10
tasks:
  - name: nap
    action: core.sleep
    input: {seconds: 100}
    on_success: after
  - name: after
    action: core.noop
""",
    # something to pause and resume: a sleep, then two tasks
    "pausable": """
name: t.pausable
tasks:
  - name: nap
    action: core.sleep
    input: {seconds: 10}
    on_success: b
  - name: b
    action: core.echo
    input: {v: 1}
    publish: [{v: "{{ result().v }}"}]
    on_success: c
  - name: c
    action: core.echo
    input: {v: "{{ vars.v + 1 }}"}
output: {c: "{{ task.c.result.v }}"}
""",
    # an action guarded by a timeout that does not fire, then a sleep
    "guarded": """
name: t.guarded
tasks:
  - name: quick
    action: core.echo
    input: {v: 7}
    timeout: 5
    on_success: nap
  - name: nap
    action: core.sleep
    input: {seconds: 20}
output: {v: "{{ task.quick.result.v }}"}
""",
    # an action whose timeout passes before the worker reports
    "late": """
name: t.late
tasks:
  - name: slow
    action: core.echo
    input: {v: 1}
    timeout: 5
    on_timeout: recover
  - name: recover
    action: core.noop
""",
}

CHILD = """
name: t.child
input:
  n: {type: integer, required: true}
tasks:
  - name: double
    action: core.echo
    input: {v: "{{ input.n * 2 }}"}
    publish: [{d: "{{ result().v }}"}]
output: {d: "{{ vars.d }}"}
"""

# executions a workflow starts besides its own (suffixes of the parent's id)
CHILDREN: dict[str, list[str]] = {"nested": [".call.1.0.1"]}


def register_all(stack: Any) -> None:
    from relayflow.core.loader import load_text

    stack.register(load_text(CHILD, "child.yaml"))
    for key, text in {**WORKFLOWS, **MORE_WORKFLOWS}.items():
        stack.register(load_text(text, f"{key}.yaml"))


def workflow_name(key: str) -> str:
    return f"t.{key}"
