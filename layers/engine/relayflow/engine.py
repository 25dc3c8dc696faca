"""The engine: loads an execution, runs the conductor, commits, carries out commands.

This is the only place that joins the pure core to the ports. A step commits
its record changes before any command leaves, so a crash can lose a command
but never record one that did not happen; redelivery of the triggering
message then repeats the step, which the records make idempotent.
"""
from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from typing import Any

from . import local_actions, ports, usage
from .attempts import AttemptAddress
from .core import templates, values
from .core.conductor import Conductor
from .core.errors import ConflictError, InputError
from .core.inputs import check_input, initial_vars
from .core.listener import NO_LISTENER, Listener
from .core.messages import (
    AttemptFinished,
    CancelTimer,
    CloseInquiry,
    DispatchAttempt,
    Emit,
    Message,
    OpenInquiry,
    ReconcileRequested,
    SendEvent,
    StartChild,
    StartRequested,
    StartTimer,
    SweepRequested,
    TimerFired,
)
from .core.records import WORKFLOW_FINAL, Execution
from .core.session import Session
from .core.spec import WorkflowSpec
from .core.versioning import spec_version
from .errors import UnknownExecutionError, UnknownWorkflowError
from .summary import ExecutionSummary, summarize

MAX_CONFLICT_RETRIES = 50
# How long past what it left in flight a step may wait for the next one before the
# reconciler acts: a dispatch ends within maxReceiveCount x the visibility timeout (5 x 180 s);
# a due timer is delivered within seconds (Scheduler retries for longer); a start at once.
ATTEMPT_GRACE = 1_200.0
TIMER_GRACE = 300.0
START_GRACE = 300.0


def next_deadline(previous: float | None, commands: list[Message], now: float) -> float | None:
    """The head's deadline after a step that sent ``commands``: the latest moment something
    it left in flight must have come back by, or the previous deadline while it is later."""
    due = [now + ATTEMPT_GRACE for c in commands if isinstance(c, DispatchAttempt)]
    due += [c.due + TIMER_GRACE for c in commands if isinstance(c, StartTimer)]
    if previous is not None and previous > now:
        due.append(previous)
    return max(due, default=None)


def step_token(message_ids: list[str]) -> str:
    """Who is writing: the first message of the step. A FIFO group redelivers from its oldest
    unacknowledged message, so a retried step keeps its token even if its batch grows or shrinks."""
    if not message_ids:
        return uuid.uuid4().hex
    return hashlib.sha256(message_ids[0].encode()).hexdigest()[:32]


class Engine:
    def __init__(self, store: ports.StateStore, workflows: ports.WorkflowRegistry, tasks: ports.TaskQueue,
                 events: ports.EventQueue, timers: ports.Timers, bus: ports.EventBus, clock: ports.Clock,
                 limits: templates.Limits | None = None, rng: random.Random | None = None,
                 new_id: Callable[[], str] | None = None, defer_start: bool = False):
        self.store = store
        self.workflows = workflows
        self.tasks = tasks
        self.events = events
        self.timers = timers
        self.bus = bus
        self.clock = clock
        self.limits = limits
        self.rng = rng or random.Random()
        self.listener: Listener = NO_LISTENER  # told each transition of every step (relayflow test's coverage)
        self.new_id = new_id or (lambda: uuid.uuid4().hex)
        self._specs: dict[tuple[str, str], WorkflowSpec] = {}
        # Deferred: start() only writes the head and queues a StartRequested, so every
        # change to an execution happens in the one consumer of its event queue.
        self.defer_start = defer_start
        self.observers: list[Callable[[list[Emit]], None]] = []  # told of each committed step's events
        # local actions (``local: true``) run inside the step when a runner is set: the
        # delivery layer sets it, and ``has_time`` from the invocation's budget
        self.local_runner: local_actions.Runner | None = None
        self.has_time: local_actions.HasTime = lambda seconds: True

    def spec(self, name: str, version: str) -> WorkflowSpec:
        key = (name, version)
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = self.workflows.get(name, version)
        return spec

    # -- starting ----------------------------------------------------------------
    def start(self, workflow: str, input: Any = None, execution_id: str | None = None,
              parent: dict[str, Any] | None = None, version: str | None = None) -> str:
        """Create an execution and start its entry tasks; idempotent for a given ``execution_id``.

        Raises UnknownWorkflowError for an unknown workflow and InputError for bad input; nothing is
        written in either case.
        """
        spec = self.workflows.get(workflow, version)
        try:  # the input as JSON carries it, whatever the caller passed (core/values.py)
            input = values.to_json(input, "input")
        except values.NotJSON as exc:
            raise InputError([str(exc)]) from None
        checked = check_input(spec, input, self.limits)
        version = self._version_of(spec, version)
        eid = execution_id or self.new_id()
        now = self.clock.now()
        # The initial vars render again in the first step (pure, same values): a render error
        # is an input error here, before anything is written.
        initial_vars(spec, checked, {"execution_id": eid, "workflow": spec.name, "started_at": now}, self.limits)
        head = Execution(id=eid, workflow=spec.name, spec_version=version, input=checked,
                         created_at=now, parent=parent, deadline=now + START_GRACE)
        # the start itself: the workflow's read, the head and its index entry, the start event,
        # the start invocation
        usage.add(head.usage, "dr", 1)
        usage.add(head.usage, "du", 1)
        usage.add_writes(head.usage, [usage.payload_size(checked)])
        usage.add_index(head.usage)
        usage.add_commands(head.usage, 0, 0, 0, 0, 1 if self.defer_start else 0)
        usage.add(head.usage, "l", 1)
        created = self.store.create_execution(head)
        if self.defer_start:
            self.events.send(StartRequested(eid))
        else:
            self._step(eid, lambda c: c.start(), created=created, message_ids=[f"start:{eid}"])
        return eid

    def _version_of(self, spec: WorkflowSpec, version: str | None) -> str:
        return version if version is not None else spec_version(spec)

    # -- events --------------------------------------------------------------------
    def handle(self, event: Message, message_id: str | None = None) -> None:
        """Apply one event; ``message_id`` (the transport's id) makes a redelivery safe."""
        self.handle_batch([event], [message_id] if message_id else [])

    def handle_batch(self, events: list[Message], message_ids: list[str] | None = None) -> None:
        """Apply several events of one execution in one step: one read and one write of the head."""
        eid = getattr(events[0], "execution_id", None) if events else None
        if not isinstance(eid, str) or any(getattr(e, "execution_id", None) != eid for e in events):
            raise ValueError("handle_batch takes events of exactly one execution")
        with usage.counting() as reads:
            self._handle_batch(eid, events, message_ids, reads)

    def _handle_batch(self, eid: str, events: list[Message], message_ids: list[str] | None,
                      reads: dict[str, float]) -> None:
        head = self.store.get_execution(eid)
        if head is None:
            raise UnknownExecutionError(eid)
        message_ids = message_ids or []
        chores = [e for e in events if isinstance(e, (SweepRequested, ReconcileRequested))]
        if chores:  # not steps: the records' expiry follows the head; a reconcile re-sends
            for chore in chores:
                if isinstance(chore, SweepRequested):
                    after = self.store.sweep(eid, chore.after)
                    if after is not None:
                        self.events.send(SweepRequested(eid, after))
                elif not head.final and head.deadline == chore.deadline:  # no step since
                    self.carry_out([Message.from_dict(c) for c in head.outbox])
            ids: list[str | None] = list(message_ids) if message_ids else [None] * len(events)
            kept = [(e, m) for e, m in zip(events, ids, strict=False)
                    if not isinstance(e, (SweepRequested, ReconcileRequested))]
            events = [e for e, _ in kept]
            message_ids = [m for _, m in kept if m is not None]
            if not events:
                return
        done = set(message_ids) & set(head.last_messages)
        if done:
            # Redelivered after their step committed (the batch may have grown since):
            # make sure that step's commands went out, then apply only the new events.
            self.carry_out([Message.from_dict(c) for c in head.outbox])
            fresh = [(e, m) for e, m in zip(events, message_ids, strict=False) if m not in done]
            events, message_ids = [e for e, _ in fresh], [m for _, m in fresh]
            if not events:
                return

        def apply(conductor: Conductor) -> list[Message]:
            for event in events:
                conductor.handle(event)
            return conductor.commands

        carried = [e.usage for e in events if isinstance(e, AttemptFinished) and e.usage]
        fired = sum(1 for e in events if isinstance(e, TimerFired))
        if fired:  # the Scheduler's invocations that delivered them, and their SQS sends
            carried.append({"si": fired, "q": fired})
        self._step(eid, apply, message_ids=message_ids or [], head=head, reads=reads, carried=carried)

    def _step(self, execution_id: str, action: Callable[[Conductor], list[Message]], created: bool = False,
              message_ids: list[str] | None = None, head: Execution | None = None,
              reads: dict[str, float] | None = None, carried: list[dict[str, float]] | None = None) -> None:
        """Run ``action`` and commit; ``head`` is the caller's fresh read, used for the first try."""
        message_ids = message_ids or []
        for _ in range(MAX_CONFLICT_RETRIES):
            if head is None:
                head = self.store.get_execution(execution_id)
            if head is None:
                raise UnknownExecutionError(execution_id)
            if message_ids and set(message_ids) <= set(head.last_messages):
                # This step committed before a crash; make sure its commands went out.
                self.carry_out([Message.from_dict(c) for c in head.outbox])
                return
            spec = self.spec(head.workflow, head.spec_version)
            session = Session(self.store, head, created=created, joins=spec.joins)
            conductor = Conductor(spec, session, self.clock.now(), self.limits, self.rng, self.listener_for(spec))
            commands = action(conductor)
            if self.local_runner is not None:
                commands = local_actions.run(conductor, self.local_runner, self.has_time)
            # Begun and ended in this one step (local actions, or nothing to run): all its
            # records are this step's and carry their expiry already; nothing to sweep.
            whole = session.execution.final and not head.started and not head.final
            if session.execution.final != (session.prior_status in WORKFLOW_FINAL) and not whole:
                # It finished (or a redrive revived it): its records' expiry follows, swept
                # from the outbox, so a crash after the commit cannot lose the sweep.
                commands = commands + [SendEvent(SweepRequested(execution_id).to_dict())]
            # The start's own deadline ends with the start step; later ones carry over.
            session.execution.deadline = None if session.execution.final else next_deadline(
                head.deadline if head.started else None, commands, self.clock.now())
            changes = session.changes()
            changes.token = step_token(message_ids)
            changes.whole = whole
            # what a redelivery must re-send; lifecycle events the bus does not publish never leave
            changes.execution.outbox = [c.to_dict() for c in commands if not isinstance(c, Emit)
                                        or self._published(c)] if message_ids else []
            changes.execution.last_messages = list(message_ids)
            changes.execution.usage = self._usage(head, changes, commands, reads, carried)
            try:
                self.store.commit(changes)
            except ConflictError:
                head = None  # read it again
                continue
            self.carry_out(commands)
            for observer in self.observers:
                observer([c for c in commands if isinstance(c, Emit)])
            return
        raise ConflictError(f"execution {execution_id}: gave up after {MAX_CONFLICT_RETRIES} conflicting writes")

    def _published(self, event: Emit) -> bool:
        """Whether the bus puts ``event`` on EventBridge (its ``level``: all, workflow or none)."""
        level = getattr(self.bus, "level", "all")
        return level == "all" or (level == "workflow" and event.type.startswith("workflow."))

    def _usage(self, head: Execution, changes: Any, commands: list[Message], reads: dict[str, float] | None,
               carried: list[dict[str, float]] | None) -> dict[str, float]:
        """The head's usage after this step: before it, plus this step's reads, its commit and
        commands (predicted from them), its share of the invocation, and what workers reported."""
        step = usage.merge(reads, *(carried or []))
        priors = changes.priors
        # each record the store writes: (its payload bytes, what it held before: None if new).
        # A task state without join arrivals is not written (DynamoStore derives it from its runs).
        records: list[tuple[int, int | None]] = [
            (0, 0 if priors.get(("s", s.task)) is not None else None) for s in changes.task_states
            if s.arrivals or s.join_done or priors.get(("s", s.task)) is not None]
        records += [(0, None)] * len(changes.arrivals)
        for r in changes.runs:
            prior = priors.get(("r", r.task, r.run))
            records.append((usage.payload_size(r.result), usage.payload_size(prior.result) if prior else None))
        for task, run_no, u in changes.units:
            prior = priors.get(("u", task, run_no, u.index))
            records.append((usage.payload_size(u.result) + usage.payload_size(u.input),
                            usage.payload_size(prior.result) + usage.payload_size(prior.input) if prior else None))
        for name, value in changes.vars.items():
            found, prior_value = priors.get(("v", name), (False, None))
            records.append((usage.payload_size(value), usage.payload_size(prior_value) if found else None))
        usage.add_intent(step, len(records))
        usage.add_writes(step, [size for size, _ in records] + [usage.payload_size(changes.execution.outbox)])
        # what the sweep will update when the execution ends: each record, at its latest size;
        # a step of a finished execution writes its records with their expiry, so the sweep
        # skips them (also those an earlier step wrote first)
        if changes.execution.final:
            usage.add_swept(step, -sum(1 for _, prior in records if prior is not None),
                            -sum(usage.write_units(prior) for _, prior in records if prior is not None))
        else:
            usage.add_swept(step, sum(1 for _, prior in records if prior is None),
                            sum(usage.write_units(size) - (usage.write_units(prior) if prior is not None else 0)
                                for size, prior in records))
        if changes.execution.status != changes.prior_status:
            usage.add_index(step)
        published = sum(1 for c in commands if isinstance(c, Emit) and self._published(c))
        # a timer is counted when it fires (most timeouts are cancelled first); a sleep's
        # schedule delivers its outcome, not a TimerFired, so it is counted when created
        usage.add_commands(step, sum(1 for c in commands if isinstance(c, DispatchAttempt)), published,
                           sum(1 for c in commands if isinstance(c, StartTimer)
                               and c.event.get("kind") != TimerFired.kind),
                           sum(1 for c in commands if isinstance(c, CancelTimer)),
                           sum(1 for c in commands if isinstance(c, SendEvent)))
        usage.add_invocation(step, usage.current_share())
        if changes.execution.final and changes.prior_status not in WORKFLOW_FINAL and not changes.whole:
            usage.add_sweep(step, head.usage)
        return usage.merge(head.usage, step)

    def listener_for(self, spec: WorkflowSpec) -> Listener:
        """The listener a step of a ``spec`` execution tells its transitions (``self.listener``)."""
        return self.listener

    def carry_out(self, commands: list[Message]) -> None:
        """Send a step's commands; dispatches and lifecycle events go out in batches."""
        dispatches = [c for c in commands if isinstance(c, DispatchAttempt)]
        emits = [c for c in commands if isinstance(c, Emit)]
        if dispatches:
            self.tasks.send_all(dispatches)
        for cmd in commands:
            if isinstance(cmd, StartTimer):
                self.timers.start(cmd)
            elif isinstance(cmd, CancelTimer):
                self.timers.cancel(cmd.key)
            elif isinstance(cmd, SendEvent):
                self.events.send(ports.as_execution_event(Message.from_dict(cmd.event)))
            elif isinstance(cmd, StartChild):
                self.start_child(cmd)
            elif isinstance(cmd, OpenInquiry):
                self.store.put_inquiry(cmd.inquiry)
            elif isinstance(cmd, CloseInquiry):
                self.store.close_inquiry(cmd.id, cmd.status)
            elif not isinstance(cmd, (DispatchAttempt, Emit)):  # pragma: no cover - a new command kind
                raise TypeError(f"unknown command {cmd.kind}")
        if emits:
            self.bus.emit_all(emits)

    def start_child(self, cmd: StartChild) -> None:
        try:
            self.start(cmd.workflow, cmd.input, execution_id=cmd.execution_id, parent=cmd.parent)
        except (UnknownWorkflowError, InputError) as exc:
            p = cmd.parent
            unknown = isinstance(exc, UnknownWorkflowError)
            message = f"workflow {cmd.workflow!r} is not registered" if unknown else str(exc)
            self.events.send(AttemptAddress.from_dict(p).finished(
                "failed", None, {"type": "ChildWorkflowError", "message": message}))

    # -- reading -------------------------------------------------------------------
    def describe(self, execution_id: str, timings: bool = False) -> ExecutionSummary:
        """The execution's summary: what ``relayflow run --json`` prints and the API answers (DESIGN §4);
        with ``timings``, each task run also says when it started and ended (and each attempt's)."""
        head = self.store.get_execution(execution_id)
        if head is None:
            raise UnknownExecutionError(execution_id)
        return summarize(head, self.store.list_runs(execution_id), timings=timings)

    def cost(self, execution_id: str) -> dict[str, Any]:
        """The execution's AWS requests by service and their dollar estimate (relayflow.usage)."""
        head = self.store.get_execution(execution_id)
        if head is None:
            raise UnknownExecutionError(execution_id)
        return usage.report(head.usage)
