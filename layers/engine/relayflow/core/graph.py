"""The task graph: edges, entry tasks, cycles, reachability, and drawings of it."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from .spec import TaskSpec, WorkflowSpec
from .status import RunStatus


def edges(tasks: Mapping[str, TaskSpec]) -> dict[str, tuple[str, ...]]:
    """task -> distinct successor names (unknown names dropped), declaration order."""
    out = {}
    for name, task in tasks.items():
        targets = task.targets()
        for t in targets:
            if t not in tasks:
                targets = tuple(t for t in targets if t in tasks)
                break
        out[name] = targets
    return out


def inbound(succ: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """task -> the tasks that lead to it, in declaration order; ``succ`` names each successor
    of a task once (as :func:`edges` gives them)."""
    inb: dict[str, list[str]] = {name: [] for name in succ}
    for src, targets in succ.items():
        for t in targets:
            inb[t].append(src)
    return {name: tuple(srcs) for name, srcs in inb.items()}


def entries(inb: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(name for name, srcs in inb.items() if not srcs)


def reachable(succ: Mapping[str, Iterable[str]], start: Iterable[str]) -> set[str]:
    seen = set(start)
    stack = list(seen)
    while stack:
        for nxt in succ[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def in_cycles(succ: Mapping[str, Iterable[str]]) -> set[str]:
    """Tasks that lie on at least one cycle (Tarjan's SCC, iterative).

    Tasks no cycle can pass through are peeled off first, cheaply: those nothing leads into,
    then those only they led into, and so on. Most workflows have no loop and are done there;
    Tarjan's walk runs on what remains, which holds every cycle whole."""
    indegree = dict.fromkeys(succ, 0)
    for targets in succ.values():
        for t in targets:
            indegree[t] += 1
    free = [name for name, count in indegree.items() if not count]
    for name in free:  # grows as it goes
        for t in succ[name]:
            indegree[t] -= 1
            if not indegree[t]:
                free.append(t)
    if len(free) == len(indegree):
        return set()
    if free:
        gone = set(free)
        succ = {name: [t for t in targets if t not in gone] for name, targets in succ.items() if name not in gone}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: set[str] = set()
    counter = 0
    for root in succ:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in succ[node]:
                    result.update(component)
    return result


def _edge_labels(task: TaskSpec) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for tr in task.next:
        if tr.decision is not None:
            for b in tr.decision:
                label = "default" if b.default else str(b.when)
                out.extend((t, label) for t in b.do)
            continue
        label = tr.origin if tr.origin.startswith("on_") else (str(tr.when) if tr.when is not None else "")
        out.extend((t, label) for t in tr.do)
    return out


def to_mermaid(spec: WorkflowSpec, statuses: Mapping[str, str] | None = None) -> str:
    """A Mermaid flowchart; ``statuses`` (task -> status) colours the nodes."""
    ids = {name: f"t{i}" for i, name in enumerate(spec.tasks)}
    lines = ["flowchart TD"]
    for name, task in spec.tasks.items():
        kind = task.action or (f"workflow {task.workflow}" if task.workflow else task.type)
        label = f"{name}<br/><small>{kind}</small>".replace('"', "'")
        if statuses and name in statuses:
            label += f"<br/>{statuses[name]}"
        shape = f'(["{label}"])' if task.join else f'["{label}"]'
        lines.append(f"  {ids[name]}{shape}")
    for name, task in spec.tasks.items():
        for target, label in _edge_labels(task):
            if target not in ids:
                continue
            text = label.replace('"', "'").replace("|", "/")
            arrow = f'-->|"{text}"|' if text else "-->"
            lines.append(f"  {ids[name]} {arrow} {ids[target]}")
    if statuses:
        colours: dict[str, str] = {
            RunStatus.SUCCEEDED: "#c8f7c5", RunStatus.FAILED: "#f7c5c5", RunStatus.TIMED_OUT: "#f7d9c5",
            RunStatus.RUNNING: "#c5daf7", RunStatus.SKIPPED: "#e0e0e0", RunStatus.CANCELLED: "#e0e0e0"}
        for name, status in statuses.items():
            if name in ids and status in colours:
                lines.append(f"  style {ids[name]} fill:{colours[status]}")
    return "\n".join(lines) + "\n"


def to_dot(spec: WorkflowSpec) -> str:
    """A Graphviz digraph of the workflow."""
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    def q(text: str) -> str:
        return f'"{esc(text)}"'

    lines = [f"digraph {q(spec.name)} {{", "  rankdir=TB;", "  node [shape=box];"]
    for name, task in spec.tasks.items():
        kind = task.action or (f"workflow {task.workflow}" if task.workflow else task.type)
        shape = ", shape=box3d" if task.join else ""
        lines.append(f'  {q(name)} [label="{esc(name)}\\n{esc(kind)}"{shape}];')  # \\n: a line break
    for name, task in spec.tasks.items():
        for target, label in _edge_labels(task):
            if target in spec.tasks:
                attr = f" [label={q(label)}]" if label else ""
                lines.append(f"  {q(name)} -> {q(target)}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"
