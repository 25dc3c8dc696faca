from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import yamlpos
from ..spec import (
    COMMANDS,
    FAIL,
    FAILED,
    NOOP,
    SUCCEEDED,
    TIMED_OUT,
    Branch,
    Transition,
    new_transition,
)
from ..yamlpos import Path
from . import template_checks
from .fields import _ENGINE_COMMANDS, BRANCH_FIELDS, NEXT_FIELDS
from .hints import _suggest
from .publish_section import publish_pairs
from .raw import _as_names

if TYPE_CHECKING:
    from .builder import Builder


_NO_COMMANDS: frozenset[str] = frozenset()


def targets(b: Builder, raw: Any, path: Path, task: str | None, field: str
            ) -> tuple[tuple[str, ...], frozenset[str]]:
    """The task names of a ``do`` and the engine commands (noop, fail) beside them."""
    if type(raw) is str and raw in b.plain_targets:  # the common case: one task, nothing to report
        return (raw,), _NO_COMMANDS
    names = _as_names(raw)
    if names is None:
        b.err(path, task, field, "must be a task name or a list of task names")
        return (), frozenset()
    commands = frozenset(n for n in names if n in COMMANDS)
    for n in names:
        if n in b.task_names or n in COMMANDS:
            continue
        if n in _ENGINE_COMMANDS:
            b.err(path, task, field, f"unknown task '{n}': {_ENGINE_COMMANDS[n]}")
        else:
            b.err(path, task, field, f"unknown task '{n}'{_suggest(n, b.task_names)}")
    if commands == {NOOP, FAIL}:
        b.err(path, task, field, "'noop' (the failure is handled) and 'fail' (fail the workflow) "
                                    "contradict each other; give one")
    elif FAIL in commands and len(names) > 1:
        others = ", ".join(n for n in names if n != FAIL)
        b.err(path, task, field, f"'fail' fails the workflow fast: {others} will not start",
                 severity="warning")
    return tuple(n for n in names if n in b.task_names), commands


# The on_* fields and the outcomes each fires on (on_failure includes a timeout unless the
# task says what to do on a timeout), built once rather than for every task.
_LEGACY: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("on_success", frozenset({SUCCEEDED})),
    ("on_failure", frozenset({FAILED, TIMED_OUT})),
    ("on_timeout", frozenset({TIMED_OUT})),
    ("on_complete", None),
)
_LEGACY_WITH_TIMEOUT = tuple((key, frozenset({FAILED}) if key == "on_failure" else outcomes)
                             for key, outcomes in _LEGACY)


def transitions(b: Builder, t: dict[str, Any], path: Path, task: str | None) -> tuple[Transition, ...]:
    out: list[Transition] = []
    for key, outcomes in _LEGACY_WITH_TIMEOUT if "on_timeout" in t else _LEGACY:
        if key not in t:
            continue
        raw = t[key]
        if isinstance(raw, list) and any(isinstance(e, dict) for e in raw):
            out.extend(conditional_legacy(b, raw, path + (key,), task, key, outcomes))
            continue
        do, commands = targets(b, raw, path + (key,), task, key)
        # in Transition's field order (origin, line, when, outcomes, publish, do, decision,
        # commands): one per task of a large workflow, and keywords cost a third of building it
        out.append(new_transition(key, b.line_in(t, key, path), None, outcomes, (), do, None, commands))
    if "decision" in t:
        out.append(decision(b, t["decision"], path + ("decision",), task))
    if "next" in t:
        raw = t["next"]
        if not isinstance(raw, list):
            b.err(path + ("next",), task, "next", "must be a list of {when, publish, do}")
        else:
            for i, entry in enumerate(raw):
                epath = path + ("next", i)
                field = f"next[{i}]"
                if not isinstance(entry, dict):
                    b.err(epath, task, field, "must be a mapping {when, publish, do}")
                    continue
                b.unknown_fields(entry, NEXT_FIELDS, epath, task, prefix=f"{field}.")
                when = entry.get("when")
                if when is not None:
                    template_checks.condition(b, when, epath + ("when",), task, f"{field}.when")
                publish = publish_pairs(b, entry.get("publish"), epath + ("publish",), task,
                                        f"{field}.publish")
                do, commands = targets(b, entry["do"], epath + ("do",), task, f"{field}.do") \
                    if "do" in entry else ((), frozenset())
                out.append(new_transition(origin=field, line=yamlpos.line_of(b.lines, epath),
                                          when=when, publish=publish, do=do, commands=commands))
            check_failed_and_timed_out(b, raw, path + ("next",), task)
    return tuple(out)


def check_failed_and_timed_out(b: Builder, entries: list[Any], path: Path, task: str | None) -> None:
    """Attune's failed() excludes timeouts; here it includes them, so both entries fire on a timeout."""
    def plain(when: Any) -> str:
        return re.sub(r"[\s{}]", "", when).lower() if isinstance(when, str) else ""
    whens = [plain(e.get("when")) if isinstance(e, dict) else "" for e in entries]
    if "timed_out()" not in whens:
        return
    for i, when in enumerate(whens):
        if when == "failed()":
            b.err(path + (i, "when"), task, f"next[{i}].when",
                     "failed() is true for timeouts too, so on a timeout this entry fires as well as the "
                     "timed_out() one; if it should not, write \"{{ failed() and not timed_out() }}\"",
                     severity="warning")


def conditional_legacy(b: Builder, raw: list[Any], path: Path, task: str | None, key: str,
                       outcomes: frozenset[str] | None) -> list[Transition]:
    """``on_success: [{when, do}, ...]`` (the seed project's install_packs.yaml): one entry per item,
    each firing on the field's outcome when its ``when`` holds."""
    out = []
    for i, entry in enumerate(raw):
        epath, field = path + (i,), f"{key}[{i}]"
        if isinstance(entry, str):
            do, commands = targets(b, entry, epath, task, field)
            out.append(new_transition(origin=field, line=yamlpos.line_of(b.lines, epath), outcomes=outcomes,
                                      do=do, commands=commands))
            continue
        if not isinstance(entry, dict):
            b.err(epath, task, field, "must be a task name or {when, do}")
            continue
        b.unknown_fields(entry, {"when", "do"}, epath, task, prefix=f"{field}.")
        when = entry.get("when")
        if when is not None:
            template_checks.condition(b, when, epath + ("when",), task, f"{field}.when")
        raw_do = entry.get("do")
        if isinstance(raw_do, list) and any(isinstance(d, dict) for d in raw_do):
            b.err(epath + ("do",), task, f"{field}.do",
                     "'do' lists task names; for a choice nested in a choice, give each combination its own "
                     "entry with both conditions in its 'when' (\"{{ A and B }}\")")
            continue
        if raw_do is None:
            b.err(epath, task, field, "needs 'do': the task(s) to run")
            continue
        do, commands = targets(b, raw_do, epath + ("do",), task, f"{field}.do")
        out.append(new_transition(origin=field, line=yamlpos.line_of(b.lines, epath), outcomes=outcomes,
                                  when=when, do=do, commands=commands))
    return out


def decision(b: Builder, raw: Any, path: Path, task: str | None) -> Transition:
    branches: list[Branch] = []
    if not isinstance(raw, list):
        b.err(path, task, "decision", "must be a list of {when, next} branches")
        raw = []
    for i, entry in enumerate(raw):
        bpath = path + (i,)
        field = f"decision[{i}]"
        if not isinstance(entry, dict):
            b.err(bpath, task, field, "must be a mapping {when, next} or {default: true, next}")
            continue
        b.unknown_fields(entry, BRANCH_FIELDS, bpath, task, prefix=f"{field}.")
        target_key = "next" if "next" in entry else "do"
        if "next" in entry and "do" in entry:
            b.err(bpath + ("do",), task, f"{field}.do", "give the branch's target as 'next' or 'do', not both")
        if target_key not in entry:
            b.err(bpath, task, field, "needs 'next': the task to run")
            continue
        do, commands = targets(b, entry[target_key], bpath + (target_key,), task, f"{field}.{target_key}")
        default = entry.get("default", False)
        if not isinstance(default, bool):
            b.err(bpath + ("default",), task, f"{field}.default", "must be true or false")
            default = False
        when = entry.get("when")
        if when is None and not default:
            b.err(bpath, task, field, "needs 'when' (or 'default: true')")
        if when is not None:
            template_checks.condition(b, when, bpath + ("when",), task, f"{field}.when")
        branches.append(Branch(when=when, do=do, default=default, commands=commands))
    if sum(branch.default for branch in branches) > 1:
        b.err(path, task, "decision", "only one branch may be the default")
    return new_transition(origin="decision", line=yamlpos.line_of(b.lines, path),
                          outcomes=frozenset({SUCCEEDED}), decision=tuple(branches))
