from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import yamlpos
from ..builtins import BUILTINS, local_builtins, may_run_locally
from ..spec import (
    BACKOFFS,
    COMMANDS,
    NOOP,
    RetrySpec,
    TaskSpec,
    new_task_spec,
)
from ..yamlpos import Path
from . import template_checks, transition_section
from .fields import (
    ATTUNE_IGNORED_TASK_FIELDS,
    ATTUNE_TASK_FIELDS,
    AWS_ACTIONS,
    NAME_RE,
    RETRY_FIELDS,
    SUBTASK_FIELDS,
    TASK_FIELDS,
    TASK_NAME_RE,
    TASK_TYPES,
)
from .hints import _suggest
from .publish_section import publish_pairs

if TYPE_CHECKING:
    from .builder import Builder


# The keys a task and a sub-task may have, built once rather than for every task.
_TASK_KEYS = TASK_FIELDS | ATTUNE_IGNORED_TASK_FIELDS
_SUBTASK_KEYS = SUBTASK_FIELDS | {"tasks"} | ATTUNE_IGNORED_TASK_FIELDS
_NOT_IN_SUBTASKS = {
    **{k: "a sub-task of a parallel task takes only "
          f"{', '.join(sorted(SUBTASK_FIELDS))}; put '{k}' on the parallel task itself"
       for k in TASK_FIELDS - SUBTASK_FIELDS - {"tasks"}},
    **ATTUNE_TASK_FIELDS}


def task(b: Builder, t: dict[str, Any], path: Path, sub: bool, parent: str | None = None,
         line: int | None = None) -> TaskSpec | None:
    """One task (or, with ``sub``, one sub-task of the parallel task ``parent``), at ``line``
    (found from ``path`` when not given)."""
    name = t.get("name")
    # (an ASCII identifier is a task name: the pattern runs only for the names it leaves out)
    valid_name = isinstance(name, str) and (name.isidentifier() and name.isascii() or bool(TASK_NAME_RE.match(name)))
    # Problems name a sub-task as PARENT/SUB ('/' cannot occur in a task name).
    label = (f"{parent}/{name}" if parent else name) if valid_name else None
    if name is None:
        b.err(path, parent, "name", "every task needs a name")
    elif not valid_name:
        b.err(path + ("name",), parent, "name",
                 f"task name {name!r} must start with a letter or '_' and hold letters, digits, '_', '.', '-'")
    elif name in COMMANDS and not sub:
        meaning = "a failure is handled, nothing more to run" if name == NOOP else "fail the workflow"
        b.err(path + ("name",), name, "name",
                 f"'{name}' is reserved: 'do: {name}' is an engine command ({meaning}); rename the task")
    if sub:  # 'tasks' in a sub-task is reported below as a nested parallel task
        b.unknown_fields(t, _SUBTASK_KEYS, path, label, not_here=_NOT_IN_SUBTASKS)
    else:
        b.unknown_fields(t, _TASK_KEYS, path, label, not_here=ATTUNE_TASK_FIELDS)
    ttype = t.get("type")
    if ttype is not None and ttype not in TASK_TYPES:
        b.err(path + ("type",), label, "type",
                 f"unknown type {ttype!r}; use one of {', '.join(TASK_TYPES)}{_suggest(str(ttype), set(TASK_TYPES))}")
        ttype = None
    action, workflow, subtasks = t.get("action"), t.get("workflow"), t.get("tasks")
    if ttype is None:
        ttype = "workflow" if workflow is not None else "parallel" if subtasks is not None else "action"
    if sub and ttype == "parallel":
        b.err(path + ("type",) if "type" in t else path + ("tasks",), label, "type",
                 "a parallel task cannot hold another parallel task")
    if action is not None and (not isinstance(action, str) or not action.strip()):
        b.err(path + ("action",), label, "action", "must be an action name such as core.echo")
    if workflow is not None and (not isinstance(workflow, str) or not NAME_RE.match(workflow)):
        b.err(path + ("workflow",), label, "workflow", "must be the name of a registered workflow")
    if ttype == "action":
        if workflow is not None:
            b.err(path + ("workflow",), label, "workflow",
                     "a task of type action runs 'action', not 'workflow' (use 'type: workflow' to run a child)")
        elif action is None:
            b.err(path, label, "action", "an action task needs 'action' (or 'workflow', or 'type: parallel')")
    elif ttype == "workflow":
        if workflow is None and isinstance(action, str) and action.strip():
            b.err(path + ("action",), label, "workflow",
                     f"write 'workflow: {action}' instead of 'action: {action}' (a workflow task names the "
                     "child workflow in 'workflow')")
        elif workflow is None:
            b.err(path, label, "workflow", "a workflow task needs 'workflow: NAME'")
        elif action is not None:
            b.err(path + ("action",), label, "action",
                     "a workflow task runs its 'workflow' and takes no 'action'; give one of them")
    elif ttype == "parallel":
        for key in ("action", "workflow"):
            if t.get(key) is not None:
                b.err(path + (key,), label, key,
                         f"a parallel task runs its 'tasks' and takes no '{key}'; "
                         f"move it into a sub-task")
    if ttype == "action" and isinstance(action, str):
        check_action(b, action, t.get("input"), path, label)
    sub_specs: list[TaskSpec] = []
    if subtasks is not None and ttype != "parallel":
        b.err(path + ("tasks",), label, "tasks", f"only a 'type: parallel' task holds sub-tasks, not a {ttype} task")
    if ttype == "parallel" and not sub:
        if not isinstance(subtasks, list) or not subtasks:
            b.err(path + ("tasks",), label, "tasks",
                     "a parallel task needs 'tasks': a non-empty list of sub-tasks to run concurrently")
        else:
            seen: dict[str, int] = {}
            for i, st in enumerate(subtasks):
                if not isinstance(st, dict):
                    b.err(path + ("tasks", i), label, "tasks", f"sub-task #{i + 1} must be a mapping")
                    continue
                spec = task(b, st, path + ("tasks", i), sub=True, parent=label or str(name),
                            line=b.line_in(subtasks, i, path + ("tasks",)))
                if spec is None:
                    continue
                if spec.name in seen:
                    b.err(path + ("tasks", i, "name"), label, "tasks",
                             f"duplicate sub-task name {spec.name!r} (first defined on line {seen[spec.name]})")
                    continue
                seen[spec.name] = spec.line
                sub_specs.append(spec)
    with_items = t.get("with_items")
    if with_items is not None:
        if isinstance(with_items, str):
            template_checks.template(b, with_items, path + ("with_items",), label, "with_items",
                          expression="{{" not in with_items)
        elif not isinstance(with_items, list):
            b.err(path + ("with_items",), label, "with_items", "must be a template or a list")
    callback = t.get("callback", False)
    callback_schema = None
    if isinstance(callback, dict) and set(callback) == {"schema"} and isinstance(callback["schema"], dict):
        callback_schema = callback["schema"]  # callback: {schema: ...} checks the result
        callback = True
    if not isinstance(callback, bool):
        b.err(path + ("callback",), label, "callback",
                 "must be true or false (or {schema: <JSON Schema of the callback's result>})")
        callback = False
    elif callback and ttype != "action":
        b.err(path + ("callback",), label, "callback",
                 f"only an action task can wait for a callback, not a {ttype} task")
    elif callback and isinstance(t.get("action"), str) and (
            (entry := BUILTINS.get(t["action"])) is not None and entry.handled_by == "engine"):
        b.err(path + ("callback",), label, "callback",
                 f"{entry.name} is run by the engine, not a worker, so it cannot hand out a callback token")
    if callback and label is not None:
        b.callback_tasks.add(label)
    local = local_flag(b, t, ttype, t.get("action"), callback, path, label)
    task_input = t.get("input")
    if task_input is not None and not isinstance(task_input, dict) and not (
            isinstance(task_input, str) and "{{" in task_input):
        b.err(path + ("input",), label, "input", "must be a mapping (or a \"{{ template }}\" giving one)")
    template_checks.template(b, task_input, path + ("input",), label, "input", item_scope=with_items is not None)
    when = t.get("when")
    if when is not None:
        template_checks.condition(b, when, path + ("when",), label, "when")
    batch_size = t.get("batch_size")
    if batch_size is not None:
        if with_items is None:
            b.err(path + ("batch_size",), label, "batch_size", "only applies to a task with with_items")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            b.err(path + ("batch_size",), label, "batch_size", f"must be a positive integer, not {batch_size!r}")
            batch_size = None
    concurrency = t.get("concurrency")
    if concurrency is not None:
        if with_items is None and ttype != "parallel":
            b.err(path + ("concurrency",), label, "concurrency",
                     "only applies to a task with with_items or a parallel task")
        if isinstance(concurrency, str) and "{{" in concurrency:
            template_checks.template(b, concurrency, path + ("concurrency",), label, "concurrency")
        elif not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            b.err(path + ("concurrency",), label, "concurrency",
                     f"must be a positive integer or a \"{{{{ template }}}}\", not {concurrency!r}")
            concurrency = None
    timeout = b.positive_number(t, "timeout", path, label, allow_template=True)
    retry = retry_policy(b, t.get("retry"), path + ("retry",), label) if "retry" in t else None
    join = t.get("join")
    if join is not None and join != "all" and (not isinstance(join, int) or isinstance(join, bool) or join < 1):
        b.err(path + ("join",), label, "join", f"must be 'all' or a positive integer, not {join!r}")
        join = None
    publish = publish_pairs(b, t.get("publish"), path + ("publish",), label, "publish") if "publish" in t else ()
    transitions = () if sub else transition_section.transitions(b, t, path, label)
    if label is None or not isinstance(name, str):
        return None
    # In TaskSpec's field order, not by keyword: twenty keywords cost more than building the
    # record does (tests/unit/test_spec_records.py checks that every field lands as itself).
    return new_task_spec(
        name, line if line is not None else yamlpos.line_of(b.lines, path), ttype,
        action if isinstance(action, str) else None, workflow if isinstance(workflow, str) else None,
        task_input, when, with_items, batch_size, concurrency, retry, timeout, join, publish,
        transitions, tuple(sub_specs), callback, callback_schema, t.get("description"), local)


def local_flag(b: Builder, t: dict[str, Any], ttype: str, action: Any, callback: bool, path: Path,
               task: str | None) -> bool:
    """``local: true``: only an action that answers at once may run inside the step."""
    local = t.get("local", False)
    if not isinstance(local, bool):
        b.err(path + ("local",), task, "local", f"must be true or false, not {local!r}")
        return False
    if not local:
        return False
    why = None
    if ttype != "action":
        why = f"a {ttype} task waits for what it starts"
    elif callback:
        why = "a task with 'callback: true' waits for its callback"
    elif isinstance(action, str) and not may_run_locally(action):
        why = (f"{action!r} waits (or calls out); only python: actions and "
               f"{', '.join(local_builtins())} run inside the step")
    if why is not None:
        b.err(path + ("local",), task, "local", f"'local: true' is for short actions that wait on "
              f"nothing: {why}; remove 'local' to run it on a worker")
        return False
    return True


def check_action(b: Builder, action: str, task_input: Any, path: Path, task: str | None) -> None:
    """What can be told about an action before it runs: a python: reference's shape, the
    built-ins' names and the inputs they cannot do without."""
    if action.startswith("python:"):
        parts = action.split(":")
        if len(parts) != 3 or not all(p.strip() for p in parts[1:]) or not all(
                re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", p) for p in parts[1:]):
            b.err(path + ("action",), task, "action",
                     f"write a python action as python:<module>:<function> (e.g. python:etl:load_file), "
                     f"not {action!r}")
        return
    if action.startswith("core.") and action not in BUILTINS:
        # core.* names only the built-ins, so this one cannot exist: it would fail as UnknownAction.
        b.err(path + ("action",), task, "action",
                 f"unknown built-in action {action!r}{_suggest(action, set(BUILTINS))}; the core actions "
                 f"are {', '.join(sorted(BUILTINS))}")
        return
    if action.startswith("aws.") and action not in AWS_ACTIONS:
        b.err(path + ("action",), task, "action",
                 f"unknown built-in action {action!r}; the aws actions are {', '.join(sorted(AWS_ACTIONS))}")
        return
    entry = BUILTINS.get(action)
    for needs in entry.required if entry is not None else ():
        if isinstance(task_input, dict) and needs not in task_input:
            b.err(path + ("input",), task, "input", f"{action} needs input.{needs}")
        elif task_input is None:
            b.err(path, task, "input", f"{action} needs input.{needs}")


def retry_policy(b: Builder, raw: Any, path: Path, task: str | None) -> RetrySpec | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return RetrySpec(count=raw)
    if not isinstance(raw, dict):
        b.err(path, task, "retry",
                 "must be a number of retries or a mapping {count, delay, backoff, max_delay, jitter, on_error}")
        return None
    b.unknown_fields(raw, RETRY_FIELDS, path, task, prefix="retry.")
    count = raw.get("count", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        b.err(path + ("count",), task, "retry.count", f"must be a non-negative integer, not {count!r}")
        count = 0
    numbers: dict[str, float | None] = {}
    for key in ("delay", "max_delay"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            b.err(path + (key,), task, f"retry.{key}", f"must be a non-negative number of seconds, not {value!r}")
            value = None
        numbers[key] = value
    backoff = raw.get("backoff", "constant")
    if backoff not in BACKOFFS:
        b.err(path + ("backoff",), task, "retry.backoff",
                 f"unknown backoff {backoff!r}; use one of {', '.join(BACKOFFS)}")
        backoff = "constant"
    jitter = raw.get("jitter", False)
    if not isinstance(jitter, bool):
        b.err(path + ("jitter",), task, "retry.jitter", "must be true or false")
        jitter = False
    on_error = raw.get("on_error")
    if on_error is not None:
        template_checks.condition(b, on_error, path + ("on_error",), task, "retry.on_error")
    return RetrySpec(count=count, delay=numbers["delay"] or 0.0, backoff=backoff,
                     max_delay=numbers["max_delay"], jitter=jitter, on_error=on_error)
