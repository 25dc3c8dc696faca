"""Hypothesis strategies for random workflows whose final state must not depend on delivery order.

A generated workflow is a DAG of tasks ``t0..tn`` (edges only go forward), plus
optionally a bounded loop (``lp_init -> lp -> lp ...``) that may exit into the DAG.
Everything a template looks at is order-free: the workflow input (boolean flags
``f0..f2``), ``result()``, ``error()`` and the outcome functions of the task that
just ended, and the loop counter, which only the (sequential) loop task writes.
Each task publishes a variable named after itself, so the final variables do not
depend on which branch finished first, and ``output`` renders every variable.

Timeouts are generated only where their outcome does not depend on timing: a
``core.sleep`` of 1.5 s with a timeout of 0.5 s (it surely times out) or 30 s (it
surely does not), 30 s on any other task, and a workflow timeout of 10,000 s (never
reached) or of 1,000 s with a ``hold`` task sleeping 2,000 s beside the rest, which
finishes long before: the workflow then surely times out, unless it failed first.
Every gap is far wider than the harness's timer race window (``TIMER_RACE``).

Besides the workflow (a dict), :func:`workflows` returns ``fatal``: the tasks that
may fail without a transition that surely handles the failure. When more than one
of them can fail, which one fails the workflow first depends on delivery order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

FLAGS = ("f0", "f1", "f2")
LOOP_INIT, LOOP, LOOP_VAR = "lp_init", "lp", "lp_count"
MAX_RUNS = 80  # upper bound on task runs of a generated workflow (no-join merges multiply)
CHILD = "prop.child"
CHILD_ATTEMPTS = 2  # the child's task retries once
SLEEP = 1.5  # seconds a sleep task sleeps
TIMER_RACE = 0.75  # seconds a timer may fire ahead of a queued message (Faults.timer_race)
HOLD, HOLD_SECONDS = "hold", 2000  # keeps a workflow with a short workflow timeout running
WORKFLOW_TIMEOUTS = (None, None, None, None, 10_000, 1_000)

# The workflow a `child` task runs: its task fails until attempt `input.k` (99 by default: always).
CHILD_WORKFLOW: dict[str, Any] = {
    "name": CHILD,
    "input": {"task": {"type": "string"}, "k": {"type": "integer", "default": 99}},
    "tasks": [{"name": "c", "action": "core.fail",
               "input": {"message": "child of {{ input.task }} failed", "succeed_on_attempt": "{{ input.k }}"},
               "retry": {"count": CHILD_ATTEMPTS - 1, "delay": 1}}],
    "output": {"task": "{{ input.task }}", "c": "{{ task.c.result }}"},
}


@dataclass
class Edge:
    target: str
    style: str  # on_success | on_failure | on_complete | next | decision
    when: str | None = None  # for next / decision
    publish: bool = False  # next entry publishes a variable


@dataclass
class Task:
    name: str
    kind: str  # noop | echo | fail | items | sleep | parallel | child
    fail_at: int | None = None  # core.fail succeed_on_attempt (None: always fails)
    items: list[int] | None = None
    items_action: str = "echo"  # echo | fail (per item: succeed_on_attempt = item) | child (k = item)
    batch_size: int | None = None
    concurrency: int | None = None
    retry: dict[str, Any] | None = None
    subtasks: list[tuple[str, int | None]] | None = None  # parallel: (echo|fail|child, succeed_on_attempt)
    when: str | None = None
    publish: bool = True
    join: Any = None
    timeout: float | None = None
    edges: list[Edge] = field(default_factory=list)


# `when` guards of transitions, and whether each is true for a run that failed.
NEXT_WHENS = (None, "{{ succeeded() }}", "{{ failed() }}", "{{ true }}", "{{ false }}",
              "{{ skipped() }}", "{{ not succeeded() }}", "{{ result() is none }}")
FLAG_WHENS = tuple(f"{{{{ input.{f} }}}}" for f in FLAGS) + tuple(f"{{{{ not input.{f} }}}}" for f in FLAGS)


def when_true_on_failure(when: str | None, flags: dict[str, bool], kind: str) -> bool:
    if when in (None, "{{ failed() }}", "{{ true }}", "{{ not succeeded() }}"):
        return True
    if when == "{{ result() is none }}":
        return kind not in ("items", "parallel")  # their result lists every unit's result
    for f, v in flags.items():
        if when == f"{{{{ input.{f} }}}}":
            return v
        if when == f"{{{{ not input.{f} }}}}":
            return not v
    return False


ON_ERROR = (None, "{{ true }}", "{{ false }}", "{{ error().type == 'ActionFailed' }}",
            "{{ error().type == 'Nope' }}")


def attempts_possible(retry: dict[str, Any] | None) -> int:
    if not retry:
        return 1
    if retry.get("on_error") in ("{{ false }}", "{{ error().type == 'Nope' }}"):
        return 1
    return 1 + retry["count"]


def can_fail(t: Task) -> bool:
    """Conservative: False only when the task surely does not fail."""
    if t.kind == "sleep":
        return t.timeout is not None and t.timeout < SLEEP
    if t.kind == "fail":
        return t.fail_at is None or t.fail_at > attempts_possible(t.retry)
    if t.kind == "items" and t.items_action == "fail":
        return any(k > attempts_possible(t.retry) for k in t.items or [])
    if t.kind == "items" and t.items_action == "child":
        return any(k > CHILD_ATTEMPTS for k in t.items or [])
    if t.kind == "parallel":
        return any(a == "fail" and (k is None or k > attempts_possible(t.retry))
                   or a == "child" and (k is None or k > CHILD_ATTEMPTS) for a, k in t.subtasks or [])
    if t.kind == "child":
        return t.fail_at is None or t.fail_at > CHILD_ATTEMPTS  # each parent attempt starts a new child
    return False


def surely_handled(t: Task, flags: dict[str, bool], joins: dict[str, Any]) -> bool:
    """A firing failure entry into a join handles the failure only if that join runs (LANGUAGE §3.5):
    surely so for ``join: 1`` (this arrival satisfies it, or it ran already), not for the others."""
    for e in t.edges:
        if joins.get(e.target) not in (None, 1):
            continue
        if e.style in ("on_failure", "on_complete"):
            return True
        if e.style == "next" and when_true_on_failure(e.when, flags, t.kind):
            return True
    return False


retries = st.one_of(st.none(), st.fixed_dictionaries(
    {"count": st.integers(0, 3)},
    optional={
        "delay": st.sampled_from([0, 1, 2.5]),
        "backoff": st.sampled_from(["constant", "linear", "exponential"]),
        "max_delay": st.sampled_from([1, 3]),
        "jitter": st.booleans(),
        "on_error": st.sampled_from([e for e in ON_ERROR if e is not None]),
    }))


@st.composite
def tasks_(draw, n: int) -> list[Task]:
    out = []
    for i in range(n):
        name = f"t{i}"
        kind = draw(st.sampled_from(["noop", "echo", "fail", "fail", "items", "items",
                                     "sleep", "parallel", "child"]))
        t = Task(name, kind)
        if kind == "child":
            t.fail_at = draw(st.one_of(st.none(), st.integers(1, 3)))
            t.retry = draw(retries)
        elif kind == "parallel":
            t.subtasks = draw(st.lists(st.tuples(st.sampled_from(["echo", "fail", "child"]),
                                                 st.one_of(st.none(), st.integers(1, 3))), min_size=1, max_size=3))
            t.concurrency = draw(st.one_of(st.none(), st.integers(1, 2)))
            t.retry = draw(retries)
        elif kind == "fail":
            t.fail_at = draw(st.one_of(st.none(), st.integers(1, 4)))
            t.retry = draw(retries)
        elif kind == "items":
            t.items = draw(st.lists(st.integers(1, 4), max_size=5))
            t.items_action = draw(st.sampled_from(["echo", "fail", "fail", "child"]))
            if t.items_action == "echo":
                t.batch_size = draw(st.one_of(st.none(), st.integers(1, 3)))
            t.concurrency = draw(st.one_of(st.none(), st.integers(1, 3)))
            t.retry = draw(retries)
        elif draw(st.integers(0, 4)) == 0:
            t.retry = draw(retries)  # a retry policy on a task that does not fail: never used
        if kind == "sleep":
            t.timeout = draw(st.sampled_from([None, SLEEP - 1, SLEEP - 1, 30]))
        elif kind != "noop":
            t.timeout = draw(st.sampled_from([None, None, None, 30]))
        t.when = draw(st.one_of(st.none(), st.none(), st.none(), st.sampled_from(FLAG_WHENS)))
        t.publish = draw(st.integers(0, 5)) > 0
        for j in range(i + 1, n):
            while draw(st.integers(0, 9)) < 3 and len(t.edges) < 4:  # sometimes two edges to one target
                style = draw(st.sampled_from(["on_success", "on_success", "on_failure", "on_complete",
                                              "next", "next", "decision"]))
                when = None
                if style == "next":
                    when = draw(st.sampled_from(NEXT_WHENS + FLAG_WHENS))
                elif style == "decision":
                    when = draw(st.sampled_from(FLAG_WHENS + ("{{ true }}", "{{ false }}", None)))
                t.edges.append(Edge(f"t{j}", style, when, publish=style == "next" and draw(st.booleans())))
        # a decision has at most one default branch (when-less)
        defaults = [e for e in t.edges if e.style == "decision" and e.when is None]
        for e in defaults[1:]:
            e.when = "{{ true }}"
        out.append(t)
    return out


def inbound(tasks: list[Task], extra: dict[str, list[str]]) -> dict[str, list[str]]:
    inb: dict[str, list[str]] = {t.name: list(extra.get(t.name, [])) for t in tasks}
    for t in tasks:
        for e in t.edges:
            if t.name not in inb[e.target]:
                inb[e.target].append(t.name)
    return inb


def run_bound(tasks: list[Task], loop_exit: str | None, loop_len: int) -> int:
    """An upper bound on task runs: a no-join task runs once per firing entry of each run of its sources."""
    runs: dict[str, int] = {}
    for t in tasks:
        fires = sum(runs[s.name] for s in tasks if s.name in runs for e in s.edges if e.target == t.name)
        if loop_exit == t.name:
            fires += 1
        if fires == 0:
            fires = 1  # entry task
        runs[t.name] = 1 if t.join is not None else fires
    return sum(r * max(1, len(t.items or [])) for t, r in zip(tasks, runs.values(), strict=False)) + loop_len


def to_dict(tasks: list[Task], flags: dict[str, bool], loop: int | None, loop_exit: str | None,
            workflow_timeout: float | None = None) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if workflow_timeout is not None and workflow_timeout < HOLD_SECONDS:
        body.append({"name": HOLD, "action": "core.sleep", "input": {"seconds": HOLD_SECONDS}})
    if loop is not None:
        body.append({"name": LOOP_INIT, "action": "core.noop", "on_success": LOOP})
        nxt: list[dict[str, Any]] = [{"when": f"{{{{ vars.{LOOP_VAR} < {loop} }}}}", "do": LOOP}]
        if loop_exit:
            nxt.append({"when": f"{{{{ vars.{LOOP_VAR} >= {loop} }}}}", "do": loop_exit})
        body.append({"name": LOOP, "action": "core.echo", "input": {"n": f"{{{{ vars.{LOOP_VAR} }}}}"},
                     "publish": [{LOOP_VAR: f"{{{{ vars.{LOOP_VAR} + 1 }}}}"}], "next": nxt})
    for t in tasks:
        d: dict[str, Any] = {"name": t.name}
        if t.kind == "noop":
            d["action"] = "core.noop"
        elif t.kind == "echo":
            d["action"] = "core.echo"
            d["input"] = {"task": t.name}
        elif t.kind == "sleep":
            d["action"] = "core.sleep"
            d["input"] = {"seconds": SLEEP}
        elif t.kind == "child":
            d["workflow"] = CHILD
            d["input"] = {"task": t.name} if t.fail_at is None else {"task": t.name, "k": t.fail_at}
        elif t.kind == "parallel":
            d["type"] = "parallel"
            subs = []
            for k, (a, at) in enumerate(t.subtasks or []):
                sub: dict[str, Any] = {"name": f"{t.name}_s{k}"}
                if a == "child":
                    sub["workflow"] = CHILD
                    sub["input"] = {"task": f"{t.name}_s{k}"} if at is None else {"task": f"{t.name}_s{k}", "k": at}
                elif a == "fail":
                    sub["action"] = "core.fail"
                    sub["input"] = {"message": f"{t.name}_s{k} failed"}
                    if at is not None:
                        sub["input"]["succeed_on_attempt"] = at
                else:
                    sub["action"] = "core.echo"
                    sub["input"] = {"sub": k}
                if t.retry is not None:
                    sub["retry"] = dict(t.retry)
                subs.append(sub)
            d["tasks"] = subs
            if t.concurrency:
                d["concurrency"] = t.concurrency
        elif t.kind == "fail":
            d["action"] = "core.fail"
            d["input"] = {"message": f"{t.name} failed"}
            if t.fail_at is not None:
                d["input"]["succeed_on_attempt"] = t.fail_at
        else:
            d["with_items"] = list(t.items or [])
            if t.items_action == "echo":
                d["action"] = "core.echo"
                d["input"] = {"task": t.name, "item": "{{ item }}", "index": "{{ index }}"}
                if t.batch_size:
                    d["batch_size"] = t.batch_size
            elif t.items_action == "child":
                d["workflow"] = CHILD
                d["input"] = {"task": f"{t.name}[{{{{ index }}}}]", "k": "{{ item }}"}
            else:
                d["action"] = "core.fail"
                d["input"] = {"message": f"{t.name} item {{{{ index }}}} failed", "succeed_on_attempt": "{{ item }}"}
            if t.concurrency:
                d["concurrency"] = t.concurrency
        if t.retry is not None and t.kind != "parallel":
            d["retry"] = dict(t.retry)
        if t.timeout is not None:
            d["timeout"] = t.timeout
        if t.when is not None:
            d["when"] = t.when
        if t.join is not None:
            d["join"] = t.join
        if t.publish:
            d["publish"] = [{t.name: "{{ result() }}"}]
        for style in ("on_success", "on_failure", "on_complete"):
            targets = [e.target for e in t.edges if e.style == style]
            if targets:
                d[style] = targets if len(targets) > 1 else targets[0]
        branches = []
        for e in t.edges:
            if e.style == "decision":
                branches.append({"default": True, "next": e.target} if e.when is None
                                else {"when": e.when, "next": e.target})
        if branches:
            d["decision"] = branches
        entries = []
        for k, e in enumerate(t.edges):
            if e.style == "next":
                entry: dict[str, Any] = {"do": e.target}
                if e.when is not None:
                    entry["when"] = e.when
                if e.publish:
                    entry["publish"] = [{f"{t.name}_n{k}": "{{ [succeeded(), failed(), result()] }}"}]
                entries.append(entry)
        if entries:
            d["next"] = entries
        body.append(d)
    names = [t.name for t in tasks] + [f"{t.name}_n{k}" for t in tasks for k, e in enumerate(t.edges)
                                       if e.style == "next" and e.publish]
    variables: dict[str, Any] = {name: None for name in names}
    output = {name: f"{{{{ vars.{name} }}}}" for name in names}
    if loop is not None:
        variables[LOOP_VAR] = 0
        output[LOOP_VAR] = f"{{{{ vars.{LOOP_VAR} }}}}"
    workflow = {
        "name": "prop.delivery",
        "input": {f: {"type": "boolean", "default": v} for f, v in flags.items()},
        "vars": variables,
        "tasks": body,
        "output": output,
    }
    if workflow_timeout is not None:
        workflow["timeout"] = workflow_timeout
    return workflow


@dataclass
class Generated:
    workflow: dict[str, Any]
    fatal: list[str]  # tasks that may fail with no transition surely handling it


@st.composite
def workflows(draw, max_tasks: int = 7, max_runs: int = MAX_RUNS) -> Generated:
    n = draw(st.integers(2, max_tasks))
    tasks = draw(tasks_(n))
    flags = {f: draw(st.booleans()) for f in FLAGS}
    loop = draw(st.one_of(st.none(), st.integers(1, 4)))
    loop_exit = None
    if loop is not None and draw(st.booleans()):
        loop_exit = draw(st.sampled_from([t.name for t in tasks]))
    inb = inbound(tasks, {loop_exit: [LOOP]} if loop_exit else {})
    for t in tasks:
        k = len(inb[t.name])
        if k >= 2:
            t.join = draw(st.sampled_from([None, None, "all", "all"] + list(range(1, k + 1))))
    assume(run_bound(tasks, loop_exit, loop or 0) <= max_runs)
    joins = {t.name: t.join for t in tasks}
    fatal = [t.name for t in tasks if can_fail(t) and not surely_handled(t, flags, joins)]
    workflow_timeout = draw(st.sampled_from(WORKFLOW_TIMEOUTS))
    return Generated(to_dict(tasks, flags, loop, loop_exit, workflow_timeout), fatal)
