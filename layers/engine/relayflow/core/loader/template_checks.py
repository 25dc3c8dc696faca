from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from .. import templates
from ..spec import (
    InputParam,
)
from ..templates import analysis
from ..yamlpos import Path
from .fields import _NO_OUTCOME_FIELDS, _RUN_FIELDS, FUNCTIONS, SCOPES
from .hints import _FUNCTION_HINTS, _NAME_HINTS, _suggest
from .raw import _strings

if TYPE_CHECKING:
    from .builder import Builder


def template(b: Builder, value: Any, path: Path, task: str | None, field: str,
             expression: bool = False, item_scope: bool = False) -> None:
    """Remember every template string under ``value`` for checking once task names are known."""
    if isinstance(value, str):
        if "<%" in value and "%>" in value:
            b.err(path, task, field, "YAQL expressions (<% ... %>) are not supported: write a Jinja "
                                        "template, e.g. \"<% ctx(x) %>\" as \"{{ vars.x }}\" (or input.x)")
            return
        if expression or "{{" in value or "{%" in value:
            b.template_uses.append((path, task, field, value, expression, item_scope))
    elif isinstance(value, dict):
        for k, v in value.items():
            if type(v) in _NO_TEMPLATE_TYPES:
                continue  # (most of a task's input: a number or a flag)
            if _may_hold_template(v, expression):
                template(b, v, path + (k,), task, f"{field}.{k}", expression, item_scope)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if _may_hold_template(v, expression):
                template(b, v, path + (i,), task, f"{field}[{i}]", expression, item_scope)


_NO_TEMPLATE_TYPES = frozenset({int, float, bool, type(None)})


def _may_hold_template(value: Any, expression: bool) -> bool:
    """Whether :func:`template` has anything to do with ``value``: a number, a flag or plain text
    has nothing to remember or report, so its path and field need not be built."""
    if isinstance(value, str):
        return expression or "{" in value or "<%" in value
    return isinstance(value, (dict, list))


def unknown_name(b: Builder, name: str) -> str:
    """The message for a name no template scope defines, saying what to write instead."""
    if name in b.var_names or name in b.published:
        return f"unknown name '{name}' in template: a bare name is not a variable here; write 'vars.{name}'"
    if name in b.input_names:
        return f"unknown name '{name}' in template: a bare name is not an input here; write 'input.{name}'"
    if name in _NAME_HINTS:
        return f"unknown name '{name}' in template: {_NAME_HINTS[name]}"
    if name in _FUNCTION_HINTS:
        return f"unknown function '{name}' in template: write {_FUNCTION_HINTS[name]}"
    hint = _suggest(name, SCOPES | FUNCTIONS) or (
        " (templates see input, vars, task.NAME, item, index, system, callback and "
        "result(), error(), succeeded(), failed(), timed_out(), skipped())")
    return f"unknown name '{name}' in template{hint}"


def check_names_read(b: Builder, text: str, bare: bool, path: Path, task: str | None, field: str) -> None:
    """``input.X`` of an input the workflow does not declare, ``vars.X`` of a variable nothing sets.

    Warnings: such a read fails when it runs, unless the template guards it (``is defined``,
    ``default``), which this check cannot always see."""
    guarded = "defined" in text or "default" in text
    for scope, key in analysis.scope_keys(text, bare):
        if guarded:
            continue
        if scope == "input" and b.input_names and key not in b.input_names:
            b.err(path, task, field, f"unknown input '{key}'{_suggest(key, b.input_names)}: the "
                                        f"workflow declares {', '.join(sorted(b.input_names))}",
                     severity="warning")
        elif scope == "vars" and key not in b.known_vars:
            known = b.known_vars
            hint = _suggest(key, known) or (
                "; set it in 'vars' or with 'publish'" if not known else
                f"; set it in 'vars' or with 'publish' (known: {', '.join(sorted(known))})")
            b.err(path, task, field, f"unknown variable '{key}'{hint}", severity="warning")


def check_templates(b: Builder) -> None:
    # Every name a template may read as a variable, built once: rebuilding it per template
    # made validating a workflow quadratic in its published variables.
    b.known_vars = b.var_names | b.published
    # A template used again where it would be checked the same way (a publish repeated in
    # every task) is checked once: whether it is clean depends only on this key.
    clean: set[tuple[str, bool, bool, bool, bool]] = set()
    for path, task, field, text, expression, item_scope in b.template_uses:
        key = (text, expression, item_scope, _field_root(field) in _NO_OUTCOME_FIELDS, task in b.callback_tasks)
        if key in clean:
            continue
        found = len(b.problems)
        check_use(b, path, task, field, text, expression, item_scope)
        if len(b.problems) == found:
            clean.add(key)


def _field_root(field: str) -> str:
    """The task field a template's field is under: ``input`` for ``input.x[0].y``."""
    return field.partition(".")[0].partition("[")[0]


def check_use(b: Builder, path: Path, task: str | None, field: str, text: str, expression: bool,
              item_scope: bool) -> None:
    """One template string where it is used: its syntax and every name it reads."""
    message = templates.check_expression(text) if expression and "{{" not in text else templates.check(text)
    if message:
        b.err(path, task, field, f"template error: {message}")
        return
    bare = expression and "{{" not in text
    names = templates.referenced_names(text, expression=bare)
    for name in sorted(names - SCOPES - FUNCTIONS):
        b.err(path, task, field, unknown_name(b, name))
    outcome = sorted(names & FUNCTIONS)
    if outcome and _field_root(field) in _NO_OUTCOME_FIELDS:
        b.err(path, task, field,
                 f"{outcome[0]}() belongs to a finished task: it is set in that task's publish, next, "
                 f"decision and retry.on_error, and is null here; write 'task.NAME.result' (or "
                 f"task.NAME.status, task.NAME.error) to read another task")
    if names & FUNCTIONS and analysis.FUNCTION_AS_VALUE.search(text):
        for fn, attr in analysis.functions_as_values(text, bare):
            write = f"{fn}().{attr}" if attr else f"{fn}()"
            b.err(path, task, field, f"'{fn}' is a function: write '{write}'"
                                        f"{' (with the parentheses)' if attr else ''}")
    if analysis.may_read_unknown(text, b.input_names, b.known_vars):
        check_names_read(b, text, bare, path, task, field)
    for finding in (analysis.addressing(text, bare) if analysis.may_misaddress(text) else ()):
        if finding[0] == "task" and finding[1] in b.task_names:
            _, ref, key = finding
            close = difflib.get_close_matches(key, sorted(_RUN_FIELDS), n=1, cutoff=0.75)
            advice = f"did you mean 'task.{ref}.{close[0]}'?" if close else \
                f"for a key of its result, write 'task.{ref}.result.{key}'"
            b.err(path, task, field,
                     f"'task.{ref}.{key}': task.{ref} holds status, result, error, attempts, run, "
                     f"started_at and finished_at; {advice}")
        elif finding[0] == "system":
            tail = " (Attune's system.workflow_start is system.started_at)" \
                if finding[1] == "workflow_start" else ""
            b.err(path, task, field, f"'system.{finding[1]}': system holds execution_id, workflow "
                                        f"and started_at{tail}")
        elif finding[0] == "call":
            b.err(path, task, field, "'task(...)' is not a function: write 'task.NAME.result' "
                                        "for a task's result")
        elif finding[0] == "item_call":
            b.err(path, task, field, f"'{finding[1]}' is a value, not a function: write "
                                        f"'{finding[1]}' (StackStorm's {finding[1]}())")
    if not item_scope and names & {"item", "index"}:
        b.err(path, task, field, "'item' and 'index' exist only in the input of a with_items task")
    if "callback" in names and task not in b.callback_tasks:
        b.err(path, task, field, "'callback' exists only in a task with 'callback: true'")
    for ref in sorted(templates.task_references(text, expression=bare) - b.task_names):
        b.err(path, task, field, f"unknown task '{ref}' in template{_suggest(ref, b.task_names)}")


def check_start_templates(b: Builder, inputs: tuple[InputParam, ...], variables: dict[str, Any]) -> None:
    """Templated input defaults and initial vars render at start, in declaration order: each
    may read only what exists by then (LANGUAGE §1)."""
    input_order = [p.name for p in inputs]
    var_order = [k for k in variables if isinstance(k, str)]
    for path, field, value, name in b.start_templates:
        is_var = field.startswith("vars.")
        allowed = {"input", "parameters"} | ({"vars", "variables", "workflow", "system"} if is_var else set())
        sees = ("input, system and the vars declared before it" if is_var else
                "input: the inputs given and those declared before it")
        for text in _strings(value):
            if templates.check(text):
                continue  # reported by check_templates
            outside = sorted((templates.referenced_names(text) & SCOPES) - allowed)
            if outside:
                b.err(path, None, field, f"renders when the execution starts, before any task: it sees "
                                            f"{sees}, not '{outside[0]}'")
            if "defined" in text or "default" in text:
                continue  # a guarded read: it may be meant to fall back
            for scope, key in analysis.scope_keys(text, False):
                if is_var and scope == "vars":
                    before = var_order[:var_order.index(name)] if name in var_order else var_order
                    if key in before:
                        continue
                    if key == name:
                        why = "reads itself"
                    elif key in var_order:
                        why = f"reads vars.{key}, declared after it: move {key} above {name}"
                    else:
                        why = f"reads vars.{key}, which nothing sets before the first task"
                    b.err(path, None, field, f"{why} (vars render in declaration order when the "
                                                "execution starts)")
                elif not is_var and scope == "input" and key in input_order:
                    if key == name:
                        b.err(path, None, field, "a default cannot read its own input")
                    elif input_order.index(key) > input_order.index(name):
                        b.err(path, None, field,
                                 f"reads input.{key}, declared after it: it renders only when {key} is "
                                 f"given (defaults render in declaration order); move {key} above {name}",
                                 severity="warning")


def condition(b: Builder, value: Any, path: Path, task: str | None, field: str) -> None:
    if isinstance(value, bool):
        return
    if not isinstance(value, str):
        b.err(path, task, field, "must be a template such as \"{{ succeeded() }}\" or true/false")
        return
    template(b, value, path, task, field, expression="{{" not in value)
