"""Coverage: which tasks ran and which transition entries fired, across a workflow's cases."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.listener import Listener
from ..core.records import TaskRun
from ..core.spec import WorkflowSpec


class CoverageListener(Listener):
    """Notes, as (workflow, task, entry), every transition entry the conductor acts on: its
    targets fired into, or its noop / fail taken. The mocked stack's engine tells one per
    workflow (``Engine.listener_for``); nothing of the engine is replaced or patched."""

    def __init__(self, workflow: str, sink: list[tuple[str, str, str]]):
        self.workflow, self.sink = workflow, sink

    def transition_taken(self, run: TaskRun, entry: str, kind: str, targets: tuple[str, ...]) -> None:
        self.sink.append((self.workflow, run.task, entry))


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


