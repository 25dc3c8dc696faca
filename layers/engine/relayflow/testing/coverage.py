"""Coverage: which tasks ran and which transition entries fired, across a workflow's cases."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.conductor import Conductor
from ..core.records import TaskRun
from ..core.spec import FAIL, Branch, TaskSpec, Transition, WorkflowSpec

# -- coverage: which transitions fired -------------------------------------------------------------------

_SINK: list[tuple[str, str, str]] | None = None  # (workflow, task, entry) of every transition that fired


class _RecordingConductor(Conductor):
    """The conductor, noting which transition entries fire (their targets really scheduled).

    ``follow`` evaluates a finished run's entries in declaration order; the
    ``when`` values and decisions it computes are logged and replayed over the
    task's entries, and an entry counts as fired once ``fire_into`` received
    all of its targets.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._frames: list[dict[str, Any]] = []
        self._deciding = 0

    def condition(self, expr: Any, ctx: dict[str, Any]) -> bool:
        value = super().condition(expr, ctx)
        if self._frames and not self._deciding and not self._frames[-1]["firing"]:
            self._frames[-1]["log"].append(value)
        return value

    def decide(self, tr: Transition, ctx: dict[str, Any]) -> Branch | None:
        self._deciding += 1
        try:
            chosen = super().decide(tr, ctx)
        finally:
            self._deciding -= 1
        if self._frames:
            self._frames[-1]["log"].append(("decision", tr, chosen))
        return chosen

    def fire_into(self, target: str, source: str | None) -> None:
        if self._frames and source is not None:
            frame = self._frames[-1]
            frame["firing"] = True
            frame["targets"].append(target)
        super().fire_into(target, source)

    def follow(self, run: TaskRun) -> None:
        self._frames.append({"log": [], "targets": [], "firing": False})
        try:
            super().follow(run)
        finally:
            frame = self._frames.pop()
        if _SINK is not None:
            for entry in _replay(self.spec.tasks[run.task], run.status, frame["log"], frame["targets"]):
                _SINK.append((self.spec.name, run.task, entry))


def _replay(task: TaskSpec, status: str, log: list[Any], targets: list[str]) -> list[str]:
    fired: list[str] = []
    i = 0
    for tr in task.next:
        if tr.outcomes is not None and status not in tr.outcomes:
            continue
        if tr.decision is not None:
            if i >= len(log) or not isinstance(log[i], tuple):
                break
            _, _, chosen = log[i]
            i += 1
            if chosen is not None and (_fires(chosen.do, chosen.commands, targets)):
                index = next(k for k, b in enumerate(tr.decision) if b is chosen)
                fired.append(f"decision[{index}]")
            continue
        if tr.when is not None:
            if i >= len(log) or isinstance(log[i], tuple):
                break
            value = log[i]
            i += 1
            if not value:
                continue
        if _fires(tr.do, tr.commands, targets):
            fired.append(tr.origin)
    return fired


def _fires(do: tuple[str, ...], commands: frozenset[str], targets: list[str]) -> bool:
    """An entry whose ``when`` held fired when its tasks were scheduled, or it said noop / fail
    (after 'fail' nothing is scheduled: the workflow fails fast)."""
    if FAIL in commands or (commands and not do):
        return True
    return bool(do) and all(t in targets for t in do)


@contextlib.contextmanager
def recording(sink: list[tuple[str, str, str]]) -> Iterator[None]:
    from .. import engine as engine_module
    global _SINK
    original, saved = engine_module.Conductor, _SINK  # type: ignore[attr-defined]
    engine_module.Conductor = _RecordingConductor  # type: ignore[attr-defined]
    _SINK = sink
    try:
        yield
    finally:
        engine_module.Conductor = original  # type: ignore[attr-defined]
        _SINK = saved


def transition_entries(spec: WorkflowSpec) -> list[tuple[str, str, tuple[str, ...], int]]:
    """Every transition entry that schedules something or says noop / fail: (task, entry, targets, line)."""
    out = []
    for task in spec.tasks.values():
        for tr in task.next:
            if tr.decision is not None:
                for k, branch in enumerate(tr.decision):
                    if branch.do or branch.commands:
                        out.append((task.name, f"decision[{k}]", branch.do + tuple(sorted(branch.commands)),
                                    tr.line))
            elif tr.do or tr.commands:
                out.append((task.name, tr.origin, tr.do + tuple(sorted(tr.commands)), tr.line))
    return out




@dataclass
class Coverage:
    workflow: str
    file: str
    tasks: list[str]
    ran: set[str] = field(default_factory=set)
    entries: list[tuple[str, str, tuple[str, ...], int]] = field(default_factory=list)
    fired: set[tuple[str, str]] = field(default_factory=set)
    cases: int = 0

    @property
    def never_ran(self) -> list[str]:
        return [t for t in self.tasks if t not in self.ran]

    @property
    def never_fired(self) -> list[tuple[str, str, tuple[str, ...], int]]:
        return [e for e in self.entries if (e[0], e[1]) not in self.fired]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow, "file": self.file, "cases": self.cases,
            "tasks": {"total": len(self.tasks), "ran": len(self.tasks) - len(self.never_ran),
                      "never_ran": self.never_ran},
            "transitions": {"total": len(self.entries), "fired": len(self.entries) - len(self.never_fired),
                            "never_fired": [{"task": t, "entry": e, "targets": list(d), "line": line}
                                            for t, e, d, line in self.never_fired]},
        }


