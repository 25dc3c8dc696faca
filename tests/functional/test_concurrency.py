"""DESIGN §3: no join fires twice and no update is lost when parallel branches finish at
the same moment.

1. Eight branches' dispatches run in the worker handler in eight threads at once, so
   their completions race into the event queue; then the pump advances the execution.
2. The advance handler itself is called from several threads at once with batches of
   the same execution's completions, as a deployment that lost FIFO ordering would
   (a standard queue, or several consumers of one group). Every thread reads the same
   head before any of them writes (a barrier at the first commit), the worst case for
   optimistic concurrency: all but one must lose on the store's conditional writes and
   retry (the engine retries ConflictError) or report their records failed, which are
   then redelivered.

Each thread has its own Runtime (boto3 session, clients, store caches), as separate
Lambda instances would; moto applies each AWS call atomically (``faults.atomic_aws``).
"""
from __future__ import annotations

import threading
from typing import Any

import pytest

from relayflow.core.errors import ConflictError
from relayflow.core.loader import load_text
from relayflow.local.stack import LambdaContext

from . import faults

N = 8
BRANCHES = [f"b{i}" for i in range(1, N + 1)]


def fan_workflow(name: str, join: bool) -> str:
    lines = [f"name: {name}", "tasks:", "  - name: fan", "    action: core.noop",
             f"    on_success: [{', '.join(BRANCHES)}]"]
    for i, b in enumerate(BRANCHES, 1):
        lines += [f"  - name: {b}", "    action: core.echo", f"    input: {{v: {i}}}",
                  f"    publish: [{{p{i}: \"{{{{ result().v }}}}\"}}]"]
        if join:
            lines.append("    on_success: merge")
    total = " + ".join(f"vars.p{i}" for i in range(1, N + 1))
    if join:
        lines += ["  - name: merge", "    join: all", "    action: core.echo",
                  f"    input: {{total: \"{{{{ {total} }}}}\"}}",
                  "    publish: [{total: \"{{ result().total }}\"}]"]
        lines.append("output: {total: \"{{ vars.total }}\"}")
    else:
        lines.append(f"output: {{total: \"{{{{ {total} }}}}\"}}")
    return "\n".join(lines) + "\n"


TOTAL = sum(range(1, N + 1))


@pytest.fixture(scope="module")
def stack(local):
    local.register(load_text(fan_workflow("t.fan_join", join=True), "fan_join.yaml"))
    local.register(load_text(fan_workflow("t.fan_free", join=False), "fan_free.yaml"))
    with faults.atomic_aws(), faults.runtime_per_thread(local) as fresh_runtime:
        local.fresh_runtime = fresh_runtime
        yield local


def start_and_fan_out(stack: Any, workflow: str, eid: str) -> None:
    """Start, run ``fan``, and record its completion: the N branch dispatches are queued."""
    faults.assert_idle(stack)
    faults.fresh_case(stack)
    stack.start(workflow, None, execution_id=eid)
    for queue in ("event", "task", "event"):
        assert stack.deliver(queue)


class Rendezvous:
    """Makes each thread's first call of a wrapped method wait until ``parties`` threads reached
    theirs, so all of them are in flight at once. A barrier that breaks (a thread never got
    there within the timeout) is recorded, not raised inside the handler, and fails the test
    through ``assert_met``: without the rendezvous there was no race to speak of."""

    def __init__(self, parties: int):
        self.parties = parties
        self.barrier = threading.Barrier(parties)
        self.arrived = 0
        self.broken = False
        self._lock = threading.Lock()
        self._local = threading.local()

    def wait_once(self) -> None:
        if getattr(self._local, "waited", False):
            return
        self._local.waited = True
        with self._lock:
            self.arrived += 1
        try:
            self.barrier.wait(timeout=60)  # a guard against a thread that never gets there
        except threading.BrokenBarrierError:
            with self._lock:
                self.broken = True

    def assert_met(self) -> None:
        assert not self.broken, f"the barrier broke: {self.arrived} of {self.parties} threads arrived"
        assert self.arrived == self.parties, f"{self.arrived} of {self.parties} threads arrived"


class CommitRace(Rendezvous):
    """Every thread reads the same head before anyone writes: its first commit waits for the
    others'; counts the conflicts they meet."""

    def __init__(self, parties: int):
        super().__init__(parties)
        self.conflicts = 0
        self.commits = 0

    def install(self, runtime: Any) -> None:
        original = runtime.store.commit

        def commit(changes: Any) -> None:
            self.wait_once()
            try:
                original(changes)
            except ConflictError:
                with self._lock:
                    self.conflicts += 1
                raise
            with self._lock:
                self.commits += 1

        runtime.store.commit = commit


class SendRace(Rendezvous):
    """Every worker has run its action before any sends its outcome: the first send waits."""

    def install(self, runtime: Any) -> None:
        original = runtime.event_queue.send

        def send(message: Any) -> None:
            self.wait_once()
            original(message)

        runtime.event_queue.send = send


def check_join(stack: Any, eid: str) -> None:
    result = stack.describe(eid)
    faults.assert_runs_numbered(result)
    assert result["status"] == "succeeded", result["error"]
    names = [t["name"] for t in result["tasks"]]
    assert names.count("merge") == 1  # the join fired exactly once
    assert sorted(names) == sorted(["fan", "merge", *BRANCHES])
    merge = next(t for t in result["tasks"] if t["name"] == "merge")
    assert merge["result"] == {"total": TOTAL}  # every branch's variable was there
    assert result["output"] == {"total": TOTAL}
    assert stack.runtime.store.list_vars(eid) == {**{f"p{i}": i for i in range(1, N + 1)}, "total": TOTAL}
    assert faults.drain_dlqs(stack) == {"task": [], "event": []}
    faults.assert_idle(stack)


def test_branch_completions_race_from_concurrent_workers(stack):
    eid = "race-workers"
    start_and_fan_out(stack, "t.fan_join", eid)
    dispatches = faults.receive(stack, "task", N)
    worker, _ = stack.handlers["task"]
    race = SendRace(N)

    def invoke(m: dict[str, Any]) -> Any:
        race.install(stack.fresh_runtime())
        return worker(faults.sqs_event(stack, "task", [m]), LambdaContext("relayflow-task"))

    calls = [lambda m=m: invoke(m) for m in dispatches]
    results = faults.in_threads(calls)
    for m, result in zip(dispatches, results, strict=True):
        assert not isinstance(result, BaseException), getattr(result, "formatted", result)
        assert result == {"batchItemFailures": []}
        faults.settle(stack, "task", [m], result)
    race.assert_met()  # all N outcomes were sent while all N workers were in flight
    stack.deliveries = 0
    stack.pump(max_deliveries=200)
    check_join(stack, eid)


def run_advance_concurrently(stack: Any, eid: str, sizes: list[int]) -> CommitRace:
    """Run the N branches, then hand their N completions to the advance handler in
    ``len(sizes)`` concurrent invocations of ``sizes[i]`` records each."""
    assert sum(sizes) == N
    assert stack.deliver("task")  # the N branches run; their completions are queued
    completions = faults.receive(stack, "event", N)  # one FIFO group: one receive holds them all
    assert len({m["Attributes"]["MessageGroupId"] for m in completions}) == 1
    batches, i = [], 0
    for size in sizes:
        batches.append(completions[i:i + size])
        i += size
    race = CommitRace(len(batches))
    advance, _ = stack.handlers["event"]

    def invoke(batch: list[dict[str, Any]]) -> Any:
        race.install(stack.fresh_runtime())
        return advance(faults.sqs_event(stack, "event", batch), LambdaContext("relayflow-event"))

    results = faults.in_threads([lambda b=b: invoke(b) for b in batches])
    for batch, result in zip(batches, results, strict=True):
        faults.settle(stack, "event", batch, result)  # failed records come back, as from SQS
    stack.deliveries = 0
    stack.pump(max_deliveries=200)
    return race


SPLITS = {"8x1": [1] * 8, "4x2": [2] * 4, "2x4": [4, 4], "1-2-5": [1, 2, 5]}


@pytest.mark.parametrize("split", list(SPLITS))
def test_concurrent_advance_steps_into_a_join(stack, split):
    # fan-out to 8 echo branches joined by join: all; their 8 completions handed to the advance
    # handler in concurrent invocations that all read the same head
    eid = f"race-advance-{split}"
    start_and_fan_out(stack, "t.fan_join", eid)
    race = run_advance_concurrently(stack, eid, SPLITS[split])
    try:
        check_join(stack, eid)
    finally:
        faults.drain_dlqs(stack)
    # every thread read the same head: all but one lost the first round
    race.assert_met()
    assert race.conflicts >= len(SPLITS[split]) - 1


def test_concurrent_advance_steps_without_a_join(stack):
    """Steps writing disjoint records (no shared join record) still conflict at the head; the
    losers' records must not read as committed under the winner's version."""
    eid = "race-advance-free"
    start_and_fan_out(stack, "t.fan_free", eid)
    race = run_advance_concurrently(stack, eid, [1] * N)
    result = stack.describe(eid)
    faults.drain_dlqs(stack)
    race.assert_met()
    assert race.conflicts >= N - 1  # every thread read the same head: all but one lost the first round
    assert result["status"] == "succeeded"
    assert result["output"] == {"total": TOTAL}
    assert [t["status"] for t in result["tasks"]] == ["succeeded"] * (N + 1)
