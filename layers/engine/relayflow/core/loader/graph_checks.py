from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import graph
from ..spec import (
    DEFAULT_MAX_TASK_RUNS,
    FAIL,
    FAILED,
    NOOP,
    SUCCEEDED,
    TIMED_OUT,
    TaskSpec,
    Transition,
)
from ..yamlpos import Path

if TYPE_CHECKING:
    from .builder import Builder


def _never_fails(task: TaskSpec) -> bool:
    """A task that always succeeds (short of an authoring error): a built-in that cannot fail,
    with no task-level 'when' that could skip it and no timeout."""
    return task.type == "action" and task.when is None and task.timeout is None and not task.callback \
        and task.action in ("core.noop", "core.echo", "core.sleep")


def _cycle_through(succ: dict[str, tuple[str, ...]], start: str) -> list[str]:
    """The shortest cycle from ``start`` back to it, as the tasks in order (``start`` first)."""
    parent: dict[str, str] = {}
    queue = [start]
    for node in queue:
        for nxt in succ[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return [start]


def _task_paths(tasks: dict[str, TaskSpec], data: dict[str, Any]) -> dict[str, Path]:
    """Each task's path in the document (its first definition's, for a duplicate name)."""
    raw_tasks = data.get("tasks")
    if not isinstance(raw_tasks, list):
        return {name: ("tasks", name) for name in tasks}
    path_of: dict[str, Path] = {}
    for i, t in enumerate(raw_tasks):
        if isinstance(t, dict) and isinstance(t.get("name"), str):
            path_of.setdefault(t["name"], ("tasks", i))
    return path_of


def check_graph(b: Builder, tasks: dict[str, TaskSpec], succ: dict[str, tuple[str, ...]],
                inb: dict[str, tuple[str, ...]], entry: tuple[str, ...], data: dict[str, Any]) -> None:
    paths: dict[str, Path] | None = None

    def path_of(name: str) -> Path:
        # the tasks' paths are needed only to report a problem: built at the first one
        nonlocal paths
        if paths is None:
            paths = _task_paths(tasks, data)
        return paths.get(name, ("tasks",))

    if not entry:
        b.err(("tasks",), None, "tasks",
                 "no entry task: every task is the target of a transition, so nothing can start")
    else:
        reached = graph.reachable(succ, entry)
        for name in tasks:
            if name not in reached:
                tail = (f" (only {', '.join(inbound_of)} lead{'s' if len(inbound_of) == 1 else ''} here, "
                        "and no entry task leads there)") if (inbound_of := inb[name]) else ""
                b.err(path_of(name), name, "name",
                         f"unreachable: no path leads here from an entry task{tail}")
    cyclic = graph.in_cycles(succ)
    for name, task in tasks.items():
        if task.join is not None:
            if name in cyclic:
                b.err(path_of(name) + ("join",), name, "join",
                         "a join task cannot be inside a cycle (a loop passes through it); remove 'join' "
                         "or move the loop")
            if isinstance(task.join, int) and task.join > len(inb[name]):
                leading = f" ({', '.join(inb[name])})" if inb[name] else ""
                b.err(path_of(name) + ("join",), name, "join",
                         f"waits for {task.join} inbound tasks but only {len(inb[name])} "
                         f"lead{'s' if len(inb[name]) == 1 else ''} here{leading}; "
                         "it could never run")
        elif len(inb[name]) > 1 and name not in cyclic:
            b.err(path_of(name), name, "join",
                     f"{len(inb[name])} tasks lead here ({', '.join(inb[name])}) and there is no 'join': "
                     "it runs once per arrival", severity="warning")
    if any(task.join is not None and task.join != 1 for task in tasks.values()):  # else no failure goes only into joins
        for name, task in tasks.items():
            check_failure_into_joins(b, task, tasks, path_of(name))
    if cyclic and entry:  # without an entry task nothing runs (reported above)
        check_endless_loops(b, tasks, path_of, data.get("max_task_runs", DEFAULT_MAX_TASK_RUNS))


def check_endless_loops(b: Builder, tasks: dict[str, TaskSpec], path_of: Callable[[str], Path],
                        max_runs: Any) -> None:
    """Loops no 'when' can leave: each edge fires on every outcome (an error), or on success
    with no condition (a warning: only a failure leaves it)."""
    def edges(fires: Callable[[Transition], bool]) -> dict[str, tuple[str, ...]]:
        out = {}
        for name, task in tasks.items():
            stops = any(FAIL in tr.commands for tr in task.next)  # 'do: fail' may end it
            out[name] = () if stops else tuple(dict.fromkeys(
                t for tr in task.next if tr.decision is None and tr.when is None and fires(tr)
                for t in tr.do if t in tasks))
        return out

    always = edges(lambda tr: tr.outcomes is None)
    on_success = edges(lambda tr: tr.outcomes is None or SUCCEEDED in tr.outcomes)
    reported: set[str] = set()
    for succ, severity in ((always, "error"), (on_success, "warning")):
        cyclic = graph.in_cycles(succ)
        for name in tasks:
            if name not in cyclic or name in reported:
                continue
            loop = _cycle_through(succ, name)
            reported.update(loop)
            path = " -> ".join(loop + [name])
            origin = next(tr.origin for tr in tasks[name].next if tr.decision is None and loop[1 % len(loop)]
                          in tr.do)
            sure = severity == "error" or all(_never_fails(tasks[m]) for m in loop)
            if severity == "error":
                message = (f"endless loop {path}: every transition on it fires on every outcome with no "
                           f"'when', so nothing leaves it and it runs until max_task_runs ({max_runs}) fails "
                           f"the workflow; give one of its transitions a 'when'")
            elif sure:
                message = (f"endless loop {path}: its transitions fire on success with no 'when', and none "
                           f"of its tasks can fail or be skipped, so it runs until max_task_runs ({max_runs}) "
                           f"fails the workflow; give one of its transitions a 'when'")
            else:
                message = (f"loop {path} has no 'when': only a failure leaves it; give one of its "
                           f"transitions a 'when' that ends the loop")
            key, _, index = origin.rstrip("]").partition("[")
            b.err(path_of(name) + ((key, int(index)) if index else (key,)), name, origin,
                     message, severity="error" if sure else "warning")


def check_failure_into_joins(b: Builder, task: TaskSpec, tasks: dict[str, TaskSpec], path: Path) -> None:
    """A failure fed only into joins is unhandled when none of them is ever satisfied (LANGUAGE §3.5)."""
    def on_failure(tr: Transition) -> bool:
        if tr.outcomes is not None:
            return bool(tr.outcomes & {FAILED, TIMED_OUT})
        when = tr.when if isinstance(tr.when, str) else ""
        return tr.when is None or bool(re.search(r"\b(failed|timed_out)\s*\(", when))

    entries = [tr for tr in task.next if tr.decision is None and on_failure(tr)]
    if not entries or any(NOOP in tr.commands or FAIL in tr.commands for tr in entries):
        return
    targets = [n for tr in entries for n in tr.do]
    if not targets or any(tasks[n].join is None or tasks[n].join == 1 for n in targets):
        return
    joins = ", ".join(dict.fromkeys(targets))
    key, _, index = entries[0].origin.rstrip("]").partition("[")
    b.err(path + ((key, int(index)) if index else (key,)), task.name, entries[0].origin,
             f"a failure of {task.name} goes only into the join {joins}: if that join is never satisfied "
             f"(its other inbound tasks do not all fire into it), it ends skipped and this failure fails the "
             f"workflow; to handle the failure either way, add a task or 'noop' to the 'do'",
             severity="warning")
