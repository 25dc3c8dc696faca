"""Load and validate a workflow file into a :class:`WorkflowSpec`.

Validation collects every problem before giving up, so an author fixes a file
in one pass; each problem names the file, line, task and field.
"""
from __future__ import annotations

import difflib
import functools
import gc
import os
import re
from collections.abc import Callable
from typing import Any

from jinja2 import nodes as jnodes

from . import graph, templates, yamlpos
from .errors import Problem, ValidationError
from .spec import (
    BACKOFFS, COMMANDS, DEFAULT_MAX_TASK_RUNS, FAIL, FAILED, INPUT_TYPES, NOOP, SUCCEEDED, TIMED_OUT,
    Branch, InputParam, RetrySpec, TaskSpec, Transition, WorkflowSpec,
)

NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
TASK_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

WORKFLOW_FIELDS = {"name", "description", "version", "input", "parameters", "vars", "timeout",
                   "tasks", "output", "output_map", "max_task_runs"}
TASK_FIELDS = {"name", "action", "workflow", "type", "input", "when", "with_items", "batch_size",
               "concurrency", "retry", "timeout", "join", "publish", "on_success", "on_failure",
               "on_complete", "on_timeout", "decision", "next", "tasks", "callback", "description",
               "local"}
SUBTASK_FIELDS = {"name", "action", "workflow", "type", "input", "retry", "timeout", "callback",
                  "description"}
INPUT_FIELDS = {"type", "required", "default", "enum", "description"}
RETRY_FIELDS = {"count", "delay", "backoff", "max_delay", "jitter", "on_error"}
NEXT_FIELDS = {"when", "publish", "do"}
BRANCH_FIELDS = {"when", "next", "do", "default"}
TASK_TYPES = ("action", "parallel", "workflow")
# the actions a task may run inside its step (``local: true``), besides python: ones
LOCAL_BUILTINS = frozenset({"core.noop", "core.echo", "core.fail"})

# The seed project's (Attune's) workflow files: fields that are documentation only and
# load as they are, and fields relayflow cannot honour, with what to write instead.
ATTUNE_DOC_FIELDS = {"ref", "label", "tags", "metadata", "output_schema", "enabled"}
ATTUNE_WORKFLOW_FIELDS = {"cancellation_policy"}
ATTUNE_IGNORED_TASK_FIELDS = {"__chart_meta__"}
ATTUNE_TASK_FIELDS = {
    "permission_set_refs": "relayflow has no per-task permission sets: every action runs with the worker "
                           "function's IAM role (infra/README.md); remove 'permission_set_refs'",
    "permission_set_ref": "relayflow has no per-task permission sets: every action runs with the worker "
                          "function's IAM role (infra/README.md); remove 'permission_set_ref'",
    "worker_selector": "every action runs in the worker Lambda function; remove 'worker_selector'",
    "worker_tolerations": "every action runs in the worker Lambda function; remove 'worker_tolerations'",
    "worker_affinity": "every action runs in the worker Lambda function; remove 'worker_affinity'",
    "trace_tag_template": "relayflow traces with X-Ray by execution id; remove 'trace_tag_template'",
    "wait_for": "relayflow has no wait_for gate: ask in a task with 'action: core.ask' before this one and "
                "branch on its result (task.ASK.result), then remove 'wait_for'",
    "iterate_cache": "relayflow has no cache iteration: fetch the entries in an action and iterate with "
                     "'with_items: \"{{ task.FETCH.result }}\"', then remove 'iterate_cache'",
    "delay": "relayflow has no task delay: put a task with 'action: core.sleep' and "
             "'input: {seconds: N}' before this one",
    "with": "write the items as 'with_items: \"{{ ... }}\"' and the limit as 'concurrency: N' on the task "
            "(StackStorm's with: {items, concurrency}); 'item' is the current item",
}
# StackStorm Orquesta's engine commands in `do` that relayflow has no use for, and what to write
# instead. (Its `noop` and `fail` are relayflow's too: spec.COMMANDS.)
_ENGINE_COMMANDS = {
    "continue": "relayflow has no 'continue' command; leave 'do' out (or write 'do: noop' to handle a "
                "failure)",
    "retry": "relayflow has no 'retry' command; give the task a 'retry: {count, delay, on_error}' (it retries "
             "failed attempts only: Orquesta's do: retry also re-runs a task that succeeded while its 'when' "
             "holds; for that, loop back to the task with 'do: TASK')",
}
BUILTIN_ACTIONS = {"core.noop", "core.echo", "core.fail", "core.sleep", "core.http", "core.ask"}
AWS_ACTIONS = {"aws.lambda"}
BUILTIN_INPUTS = {"core.sleep": "seconds", "core.http": "url"}  # the input each cannot run without
# JSON Schema keywords an input declaration may carry; relayflow checks only INPUT_FIELDS.
SCHEMA_KEYWORDS = {"items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum",
                   "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "properties",
                   "additionalProperties", "title", "examples", "multipleOf", "const"}

SCOPES = {"input", "parameters", "vars", "variables", "workflow", "task", "tasks", "item", "index",
          "system", "callback"}
FUNCTIONS = {"result", "error", "succeeded", "failed", "timed_out", "skipped"}

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def type_matches(type_name: str, value: Any) -> bool:
    return _TYPE_CHECKS[type_name](value)


def read_file(path: str) -> tuple[str | None, list[Problem]]:
    """The text of ``path``, or None and the problem that kept it from being read."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(), []
    except OSError as exc:
        return None, [Problem(path, 0, None, "file", f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return None, [Problem(path, 0, None, "file", f"not UTF-8 text (byte {exc.start}): save it as UTF-8")]


_NOT_SEARCHED = {"node_modules", "__pycache__", "venv", "site-packages"}


def workflow_files(folder: str) -> list[str]:
    """The workflow files in ``folder`` and its subfolders: YAML mappings with ``tasks`` and no
    ``cases`` (a test file's), hidden folders and virtualenvs left out."""
    import yaml  # only here: the rest of the loader reads through yamlpos
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SEARCHED)
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            path = os.path.normpath(os.path.join(root, name))
            text, _ = read_file(path)
            try:
                data = yaml.safe_load(text) if text is not None else None
            except yaml.YAMLError:
                data = None
            if isinstance(data, dict) and "tasks" in data and "cases" not in data:
                found.append(path)
    return found


def parse_file(path: str) -> tuple[WorkflowSpec | None, list[Problem]]:
    """:func:`parse` on the file at ``path``."""
    text, problems = read_file(path)
    if text is None:
        return None, problems
    return parse(text, path)


def load_file(path: str) -> WorkflowSpec:
    """Read and validate ``path``; raise :class:`ValidationError` listing every problem."""
    text, problems = read_file(path)
    if text is None:
        raise ValidationError(problems)
    return load_text(text, path)


def load_text(text: str, source: str = "<string>") -> WorkflowSpec:
    spec, problems = parse(text, source)
    errors = [p for p in problems if p.severity == "error"]
    if errors or spec is None:
        raise ValidationError(errors or problems)
    return spec


def parse(text: str, source: str = "<string>") -> tuple[WorkflowSpec | None, list[Problem]]:
    """Validate; return the spec (None when there are errors) and every problem found."""
    try:
        data, lines = yamlpos.load(text)
    except yamlpos.YamlSyntaxError as exc:
        return None, [Problem(source, exc.line, None, "yaml", str(exc))]
    builder = _Builder(source, lines, text)
    # Validation builds many small objects and no garbage cycles; the cyclic collector would
    # rescan the growing document again and again (as in yamlpos.load).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        spec = builder.build(data)
    finally:
        if was_enabled:
            gc.enable()
    problems = sorted(builder.problems, key=lambda p: (p.line, p.severity != "error"))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return spec, problems


# Field names other engines use, mapped to ours, for "did you mean" hints difflib would miss.
_FIELD_SYNONYMS = {
    "retries": "retry", "params": "input", "parameters": "input", "args": "input", "arguments": "input",
    "items": "with_items", "loop": "with_items", "foreach": "with_items", "for_each": "with_items",
    "condition": "when", "if": "when", "publish_vars": "publish", "transitions": "next",
    "on_error": "on_failure", "on_fail": "on_failure", "on_finish": "on_complete",
    "on_done": "on_complete", "then": "on_success", "ref": "action", "uses": "action",
    "subworkflow": "workflow", "branches": "tasks", "outputs": "output", "variables": "vars",
    "inputs": "input", "timeout_seconds": "timeout", "max_retries": "count", "retry_count": "count",
    "when": "on_error",
    "attempts": "count", "interval": "delay", "wait": "delay",
}


def _suggest(word: str, choices: set[str] | list[str], synonyms: bool = False) -> str:
    """A " (did you mean 'X'?)" hint naming the closest choice, or ""."""
    synonym = _FIELD_SYNONYMS.get(word.lower().replace("-", "_")) if synonyms else None
    if synonym in choices:
        return f" (did you mean '{synonym}'?)"
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.75)
    if not match:
        match = difflib.get_close_matches(word.lower().replace("-", "_"), sorted(choices), n=1, cutoff=0.75)
    return f" (did you mean '{match[0]}'?)" if match else ""


# Names other engines' templates use (the seed project's Attune above all), with what to write here.
_NAME_HINTS = {
    "config": "relayflow has no pack configuration; pass the value as an input (input.NAME) or read it "
              "inside the action",
    "keystore": "relayflow has no key store; pass the name of a secret (e.g. in AWS Secrets Manager) as an "
                "input and read the secret inside the action",
    "st2kv": "relayflow has no key-value store; pass the value as an input (input.NAME), or the name of a "
             "secret and read it inside the action",
    "inquiry": "relayflow has no inquiry namespace; a 'core.ask' task's result is the response "
               "(task.ASK.result)",
    "cancelled": "a cancelled task fires no transitions, so there is nothing to test; remove the condition "
                 "(use on_complete for an entry that fires on every other outcome)",
    "now": "templates cannot read the clock; use system.started_at (the execution's start, epoch seconds)",
    "uuid": "templates cannot make ids; use system.execution_id",
    "null": "write 'none' (Jinja's null)",
    "ctx": "StackStorm's ctx(); write 'vars.NAME' for a published variable or 'input.NAME' for an input",
    "completed": "an entry without 'when' fires on every outcome (or use on_complete)",
}
# Attune's expression functions that are Jinja filters or methods here.
_FUNCTION_HINTS = {
    "string": "'X | string'", "number": "'X | float'", "int": "'X | int'", "float": "'X | float'",
    "bool": "'X' (a condition already uses the truth of X)", "type_of":
        "a Jinja test: 'X is string', 'X is number', 'X is mapping', 'X is sequence', 'X is none'",
    "abs": "'X | abs'", "floor": "'X | round(0, \"floor\") | int'", "ceil": "'X | round(0, \"ceil\") | int'",
    "round": "'X | round | int'", "min": "'[A, B] | min'", "max": "'[A, B] | max'", "sum": "'X | sum'",
    "trim": "'X | trim'", "replace": "'S | replace(OLD, NEW)'", "starts_with": "'S.startswith(P)'",
    "ends_with": "'S.endswith(P)'", "match": "'P in S' for a substring (templates have no regular "
                                            "expressions; test a pattern inside an action)",
    "reversed": "'X | reverse | list'", "sort": "'X | sort'", "unique": "'X | unique | list'",
    "flat": "'X | sum(start=[])'", "zip": "the pairs from an action (templates have no zip)",
    "slice": "'X[START:END]'", "index_of": "'X.index(V)' (an error when V is absent)", "count": "'X.count(V)'",
    "chunks": "'X | batch(N) | list'",
}
_RUN_VIEW_KEYS = frozenset({"status", "result", "error", "attempts", "run", "started_at", "finished_at",
                            "get", "keys", "values", "items"})
_RUN_FIELDS = _RUN_VIEW_KEYS - {"get", "keys", "values", "items"}
_SYSTEM_KEYS = frozenset({"execution_id", "workflow", "started_at", "get", "keys", "values", "items"})


# Fields rendered with no finished task in scope, where result() and the outcome functions are null.
_NO_OUTCOME_FIELDS = {"input", "with_items", "concurrency", "timeout", "when", "output", "output_map", "vars"}
_INPUT_SCOPES = ("input", "parameters")
_NO_OUTCOME_FIELDS.add("parameters")
_VAR_SCOPES = ("vars", "variables", "workflow")
_MAPPING_METHODS = frozenset({"get", "keys", "values", "items"})


# Cheap textual screens: the template is parsed for the checks below only when one of them
# sees a candidate, so a large valid workflow pays a regular expression, not a second parse.
_TASK_ATTR = re.compile(r"\btasks?\s*(?:\.\s*\w+|\[[^\]]*\])\s*(?:\.\s*(\w+)|\[\s*['\"]([^'\"]*))")
_SYSTEM_ATTR = re.compile(r"\bsystem\s*(?:\.\s*(\w+)|\[\s*['\"]([^'\"]*))")
_CALLED_VALUE = re.compile(r"\b(?:item|index|tasks?)\s*\(")
_SCOPE_ATTR = re.compile(r"\b(input|parameters|vars|variables|workflow)\s*(?:\.\s*(\w+)|\[\s*['\"]([^'\"]*))")


def _may_misaddress(text: str) -> bool:
    if any((m.group(1) or m.group(2)) not in _RUN_VIEW_KEYS for m in _TASK_ATTR.finditer(text)):
        return True
    if any((m.group(1) or m.group(2)) not in _SYSTEM_KEYS for m in _SYSTEM_ATTR.finditer(text)):
        return True
    return _CALLED_VALUE.search(text) is not None


def _may_read_unknown(text: str, inputs: set[str], variables: set[str]) -> bool:
    for m in _SCOPE_ATTR.finditer(text):
        key = m.group(2) or m.group(3)
        if key in _MAPPING_METHODS:
            continue
        if m.group(1) in _INPUT_SCOPES:
            if inputs and key not in inputs:
                return True
        elif key not in variables:
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _scope_keys(text: str, expression: bool) -> tuple[tuple[str, str], ...]:
    """(input|vars, KEY) for every ``input.KEY`` / ``vars.KEY`` (and aliases, and ``['KEY']``) read."""
    try:
        ast = templates._ast(text, expression)
    except Exception:
        return ()
    found: list[tuple[str, str]] = []
    for node in ast.find_all((jnodes.Getattr, jnodes.Getitem)):
        key = _const_key(node)
        if key is None or key in _MAPPING_METHODS or not isinstance(node.node, jnodes.Name):
            continue
        if node.node.name in _INPUT_SCOPES:
            found.append(("input", key))
        elif node.node.name in _VAR_SCOPES:
            found.append(("vars", key))
    return tuple(dict.fromkeys(found))


def _const_key(node: Any) -> str | None:
    if isinstance(node, jnodes.Getattr):
        return node.attr
    if isinstance(node, jnodes.Getitem) and isinstance(node.arg, jnodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


@functools.lru_cache(maxsize=4096)
def _addressing(text: str, expression: bool) -> tuple[tuple[str, ...], ...]:
    """Uses of ``task.X.FIELD`` with a FIELD a task entry lacks, unknown ``system.X``, and ``task(...)``."""
    try:
        ast = templates._ast(text, expression)
    except Exception:  # syntax errors are reported by the syntax check
        return ()
    found: list[tuple[str, ...]] = []
    for node in ast.find_all((jnodes.Getattr, jnodes.Getitem)):
        key = _const_key(node)
        inner = node.node
        if key is None:
            continue
        if isinstance(inner, jnodes.Name):
            if inner.name == "system" and key not in _SYSTEM_KEYS:
                found.append(("system", key))
            continue
        if isinstance(inner, (jnodes.Getattr, jnodes.Getitem)) and isinstance(inner.node, jnodes.Name) \
                and inner.node.name in ("task", "tasks"):
            ref = _const_key(inner)
            if ref is not None and key not in _RUN_VIEW_KEYS:
                found.append(("task", ref, key))
    for call in ast.find_all(jnodes.Call):
        if isinstance(call.node, jnodes.Name) and call.node.name in ("task", "tasks"):
            found.append(("call",))
        elif isinstance(call.node, jnodes.Name) and call.node.name in ("item", "index"):
            found.append(("item_call", call.node.name))
    return tuple(dict.fromkeys(found))


def _has_template(value: Any) -> bool:
    return any("{{" in t or "{%" in t for t in _strings(value))


def _strings(value: Any) -> list[str]:
    """Every string inside ``value`` (dict values and list items, not keys)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


_FUNCTION_AS_VALUE = re.compile(r"\b(?:result|error|succeeded|failed|timed_out|skipped)\b(?!\s*\()")


@functools.lru_cache(maxsize=4096)
def _functions_as_values(text: str, expression: bool) -> tuple[tuple[str, str | None], ...]:
    """(function, attribute or None) for each of result, error, succeeded... read without being called."""
    try:
        ast = templates._ast(text, expression)
    except Exception:  # syntax errors are reported by the syntax check
        return ()
    called = {id(call.node) for call in ast.find_all(jnodes.Call)}
    attrs = {id(node.node): _const_key(node) for node in ast.find_all((jnodes.Getattr, jnodes.Getitem))}
    found = [(n.name, attrs.get(id(n))) for n in ast.find_all(jnodes.Name)
             if n.name in FUNCTIONS and n.ctx == "load" and id(n) not in called]
    return tuple(dict.fromkeys(found))


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


def _looks_like_schema(value: Any) -> bool:
    """Attune's ``output`` beside ``output_map`` is a JSON Schema of the result, not the result."""
    if not isinstance(value, dict) or not value:
        return False
    if "properties" in value or value.get("type") == "object":
        return True
    return all(isinstance(v, dict) and "type" in v for v in value.values())


def _name_from_path(source: str, strict: bool = True) -> str | None:
    """A workflow name from its file: ``deploy.workflow.yaml`` -> ``deploy``."""
    if not source or source.startswith("<"):
        return None
    base = source.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".yaml", ".yml"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if base.endswith(".workflow"):
        base = base[: -len(".workflow")]
    if NAME_RE.match(base):
        return base
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", base).strip("_")
    return None if strict or not cleaned else cleaned


def _as_names(value: Any) -> list[str] | None:
    """A transition target: one name, a comma-separated string, or a list of names."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


class _Builder:
    def __init__(self, source: str, lines: dict, text: str):
        self.source = source
        self.lines = lines
        self.text = text
        self.problems: list[Problem] = []
        self.task_names: set[str] = set()
        self.callback_tasks: set[str] = set()
        self.template_uses: list[tuple[tuple, str | None, str, str, bool, bool]] = []
        self.var_names: set[str] = set()
        self.input_names: set[str] = set()
        self.published: set[str] = set()
        # Input defaults and initial vars that are templates: (path, field, value, name), in order.
        self.start_templates: list[tuple[tuple, str, Any, str]] = []
        self.known_vars: set[str] = set()

    # -- reporting -------------------------------------------------------
    def err(self, path: tuple, task: str | None, field: str, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(self.source, yamlpos.line_of(self.lines, path), task, field, message, severity))

    def unknown_fields(self, data: dict, allowed: set[str], path: tuple, task: str | None, prefix: str = "",
                       not_here: dict[str, str] | None = None) -> None:
        for key in data:
            if key in allowed:
                continue
            if not_here and key in not_here:
                self.err(path + (key,), task, f"{prefix}{key}", not_here[key])
            else:
                hint = _suggest(str(key), allowed, synonyms=True) or f"; allowed: {', '.join(sorted(allowed))}"
                self.err(path + (key,), task, f"{prefix}{key}", f"unknown field{hint}")

    def template(self, value: Any, path: tuple, task: str | None, field: str,
                 expression: bool = False, item_scope: bool = False) -> None:
        """Remember every template string under ``value`` for checking once task names are known."""
        if isinstance(value, str):
            if "<%" in value and "%>" in value:
                self.err(path, task, field, "YAQL expressions (<% ... %>) are not supported: write a Jinja "
                                            "template, e.g. \"<% ctx(x) %>\" as \"{{ vars.x }}\" (or input.x)")
                return
            if expression or "{{" in value or "{%" in value:
                self.template_uses.append((path, task, field, value, expression, item_scope))
        elif isinstance(value, dict):
            for k, v in value.items():
                self.template(v, path + (k,), task, f"{field}.{k}", expression, item_scope)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.template(v, path + (i,), task, f"{field}[{i}]", expression, item_scope)

    def unknown_name(self, name: str) -> str:
        """The message for a name no template scope defines, saying what to write instead."""
        if name in self.var_names or name in self.published:
            return f"unknown name '{name}' in template: a bare name is not a variable here; write 'vars.{name}'"
        if name in self.input_names:
            return f"unknown name '{name}' in template: a bare name is not an input here; write 'input.{name}'"
        if name in _NAME_HINTS:
            return f"unknown name '{name}' in template: {_NAME_HINTS[name]}"
        if name in _FUNCTION_HINTS:
            return f"unknown function '{name}' in template: write {_FUNCTION_HINTS[name]}"
        hint = _suggest(name, SCOPES | FUNCTIONS) or (
            " (templates see input, vars, task.NAME, item, index, system, callback and "
            "result(), error(), succeeded(), failed(), timed_out(), skipped())")
        return f"unknown name '{name}' in template{hint}"

    def check_names_read(self, text: str, bare: bool, path: tuple, task: str | None, field: str) -> None:
        """``input.X`` of an input the workflow does not declare, ``vars.X`` of a variable nothing sets.

        Warnings: such a read fails when it runs, unless the template guards it (``is defined``,
        ``default``), which this check cannot always see."""
        guarded = "defined" in text or "default" in text
        for scope, key in _scope_keys(text, bare):
            if guarded:
                continue
            if scope == "input" and self.input_names and key not in self.input_names:
                self.err(path, task, field, f"unknown input '{key}'{_suggest(key, self.input_names)}: the "
                                            f"workflow declares {', '.join(sorted(self.input_names))}",
                         severity="warning")
            elif scope == "vars" and key not in self.known_vars:
                known = self.known_vars
                hint = _suggest(key, known) or (
                    "; set it in 'vars' or with 'publish'" if not known else
                    f"; set it in 'vars' or with 'publish' (known: {', '.join(sorted(known))})")
                self.err(path, task, field, f"unknown variable '{key}'{hint}", severity="warning")

    def check_templates(self) -> None:
        # Every name a template may read as a variable, built once: rebuilding it per template
        # made validating a workflow quadratic in its published variables.
        self.known_vars = self.var_names | self.published
        for path, task, field, text, expression, item_scope in self.template_uses:
            message = templates.check_expression(text) if expression and "{{" not in text else templates.check(text)
            if message:
                self.err(path, task, field, f"template error: {message}")
                continue
            bare = expression and "{{" not in text
            names = templates.referenced_names(text, expression=bare)
            for name in sorted(names - SCOPES - FUNCTIONS):
                self.err(path, task, field, self.unknown_name(name))
            outcome = sorted(names & FUNCTIONS)
            if outcome and field.split(".")[0].split("[")[0] in _NO_OUTCOME_FIELDS:
                self.err(path, task, field,
                         f"{outcome[0]}() belongs to a finished task: it is set in that task's publish, next, "
                         f"decision and retry.on_error, and is null here; write 'task.NAME.result' (or "
                         f"task.NAME.status, task.NAME.error) to read another task")
            if names & FUNCTIONS and _FUNCTION_AS_VALUE.search(text):
                for fn, attr in _functions_as_values(text, bare):
                    write = f"{fn}().{attr}" if attr else f"{fn}()"
                    self.err(path, task, field, f"'{fn}' is a function: write '{write}'"
                                                f"{' (with the parentheses)' if attr else ''}")
            if _may_read_unknown(text, self.input_names, self.known_vars):
                self.check_names_read(text, bare, path, task, field)
            for finding in (_addressing(text, bare) if _may_misaddress(text) else ()):
                if finding[0] == "task" and finding[1] in self.task_names:
                    _, ref, key = finding
                    close = difflib.get_close_matches(key, sorted(_RUN_FIELDS), n=1, cutoff=0.75)
                    advice = f"did you mean 'task.{ref}.{close[0]}'?" if close else \
                        f"for a key of its result, write 'task.{ref}.result.{key}'"
                    self.err(path, task, field,
                             f"'task.{ref}.{key}': task.{ref} holds status, result, error, attempts, run, "
                             f"started_at and finished_at; {advice}")
                elif finding[0] == "system":
                    tail = " (Attune's system.workflow_start is system.started_at)" \
                        if finding[1] == "workflow_start" else ""
                    self.err(path, task, field, f"'system.{finding[1]}': system holds execution_id, workflow "
                                                f"and started_at{tail}")
                elif finding[0] == "call":
                    self.err(path, task, field, "'task(...)' is not a function: write 'task.NAME.result' "
                                                "for a task's result")
                elif finding[0] == "item_call":
                    self.err(path, task, field, f"'{finding[1]}' is a value, not a function: write "
                                                f"'{finding[1]}' (StackStorm's {finding[1]}())")
            if not item_scope and names & {"item", "index"}:
                self.err(path, task, field, "'item' and 'index' exist only in the input of a with_items task")
            if "callback" in names and task not in self.callback_tasks:
                self.err(path, task, field, "'callback' exists only in a task with 'callback: true'")
            for ref in sorted(templates.task_references(text, expression=bare) - self.task_names):
                self.err(path, task, field, f"unknown task '{ref}' in template{_suggest(ref, self.task_names)}")

    def check_start_templates(self, inputs: tuple[InputParam, ...], variables: dict[str, Any]) -> None:
        """Templated input defaults and initial vars render at start, in declaration order: each
        may read only what exists by then (LANGUAGE §1)."""
        input_order = [p.name for p in inputs]
        var_order = [k for k in variables if isinstance(k, str)]
        for path, field, value, name in self.start_templates:
            is_var = field.startswith("vars.")
            allowed = {"input", "parameters"} | ({"vars", "variables", "workflow", "system"} if is_var else set())
            sees = ("input, system and the vars declared before it" if is_var else
                    "input: the inputs given and those declared before it")
            for text in _strings(value):
                if templates.check(text):
                    continue  # reported by check_templates
                outside = sorted((templates.referenced_names(text) & SCOPES) - allowed)
                if outside:
                    self.err(path, None, field, f"renders when the execution starts, before any task: it sees "
                                                f"{sees}, not '{outside[0]}'")
                if "defined" in text or "default" in text:
                    continue  # a guarded read: it may be meant to fall back
                for scope, key in _scope_keys(text, False):
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
                        self.err(path, None, field, f"{why} (vars render in declaration order when the "
                                                    "execution starts)")
                    elif not is_var and scope == "input" and key in input_order:
                        if key == name:
                            self.err(path, None, field, "a default cannot read its own input")
                        elif input_order.index(key) > input_order.index(name):
                            self.err(path, None, field,
                                     f"reads input.{key}, declared after it: it renders only when {key} is "
                                     f"given (defaults render in declaration order); move {key} above {name}",
                                     severity="warning")

    # -- workflow level --------------------------------------------------
    def build(self, data: Any) -> WorkflowSpec | None:
        if not isinstance(data, dict):
            self.err((), None, "workflow", "a workflow file must be a mapping with 'name' and 'tasks'")
            return None
        output_is_schema = "output_map" in data and _looks_like_schema(data.get("output"))
        self.unknown_fields(data, WORKFLOW_FIELDS | ATTUNE_DOC_FIELDS | ATTUNE_WORKFLOW_FIELDS, (), None)
        for a, b in (("input", "parameters"), ("output", "output_map")):
            if a in data and b in data and not (a == "output" and output_is_schema):
                self.err((b,), None, b, f"'{b}' is an alias of '{a}'; give only one")
        if "cancellation_policy" in data:
            self.err(("cancellation_policy",), None, "cancellation_policy",
                     "ignored: cancelling a relayflow execution starts nothing new, marks running attempts "
                     "cancelled and ignores their late results (actions already running are not interrupted)",
                     severity="warning")
        name = self.workflow_name(data)
        for key in ("description", "version"):
            if key in data and not isinstance(data[key], (str, int, float)):
                self.err((key,), None, key, "must be text")
        in_key = "parameters" if "parameters" in data and "input" not in data else "input"
        inputs = self.inputs(data.get(in_key), (in_key,))
        vars_ = self.vars(data.get("vars"))
        self.input_names = {p.name for p in inputs}
        self.var_names = {k for k in vars_ if isinstance(k, str)}
        self.check_start_templates(inputs, vars_)
        timeout = self.positive_number(data, "timeout", (), None)
        max_runs = data.get("max_task_runs", DEFAULT_MAX_TASK_RUNS)
        if not isinstance(max_runs, int) or isinstance(max_runs, bool) or max_runs < 1:
            self.err(("max_task_runs",), None, "max_task_runs", "must be a positive integer")
            max_runs = DEFAULT_MAX_TASK_RUNS
        out_key = "output_map" if "output_map" in data and ("output" not in data or output_is_schema) else "output"
        output = data.get(out_key)
        if isinstance(output, list) and output and all(isinstance(e, dict) and len(e) == 1 for e in output):
            self.err((out_key,), None, out_key, "a list of {name: template} renders to a list; to get an object "
                                                "{name: value}, write a mapping (name: template)", severity="warning")
        self.template(output, (out_key,), None, out_key)
        tasks = self.tasks(data.get("tasks"))
        self.check_templates()
        if not tasks:  # missing, or no task with a usable name: the graph rules would only add noise
            return None
        succ = graph.edges(tasks)
        inb = graph.inbound(succ)
        entry = graph.entries(inb)
        self.check_graph(tasks, succ, inb, entry, data)
        return WorkflowSpec(
            name=name if isinstance(name, str) else "", tasks=tasks, source=self.source,
            description=str(data["description"]) if data.get("description") is not None else None,
            version=str(data["version"]) if data.get("version") is not None else None,
            inputs=inputs, vars=vars_, timeout=timeout, output=output, max_task_runs=max_runs,
            text=self.text, entries=entry, inbound=inb,
        )

    def workflow_name(self, data: dict) -> Any:
        """``name``; else Attune's ``ref``; else, for a graph-only file (it has ``version``), the file's name."""
        name = data.get("name")
        ref = data.get("ref")
        if name is not None and ref is not None and ref != name:
            self.err(("ref",), None, "ref", f"ignored: the workflow is registered by its name {name!r}; "
                                            "'workflow:' tasks must call it by that name", severity="warning")
        if name is None and ref is not None:
            if isinstance(ref, str) and NAME_RE.match(ref):
                return ref
            self.err(("ref",), None, "ref", "must be letters, digits, '.', '_' or '-' (it names the workflow)")
            return None
        if name is None:
            derived = _name_from_path(self.source) if "version" in data else None
            if derived is not None:
                return derived
            hint = f" (add 'name: {_name_from_path(self.source, strict=False)}')" if \
                _name_from_path(self.source, strict=False) else ""
            self.err((), None, "name", f"required field is missing{hint}")
        elif not isinstance(name, str) or not NAME_RE.match(name):
            self.err(("name",), None, "name", "must be letters, digits, '.', '_' or '-'")
        return name

    def inputs(self, raw: Any, path: tuple) -> tuple[InputParam, ...]:
        if raw is None:
            return ()
        if isinstance(raw, dict) and isinstance(raw.get("properties"), dict) and raw.get("type") == "object":
            # a full JSON Schema object: its properties are the inputs, 'required' lists the required ones
            required = raw.get("required") if isinstance(raw.get("required"), list) else []
            raw = {k: ({**v, "required": True} if k in required and isinstance(v, dict) and "required" not in v
                       else v) for k, v in raw["properties"].items()}
            path = path + ("properties",)
        items: list[tuple[str, Any, tuple]] = []
        list_form = isinstance(raw, list)
        if isinstance(raw, dict):
            items = [(k, v, path + (k,)) for k, v in raw.items()]
        elif isinstance(raw, list):
            for i, entry in enumerate(raw):
                if isinstance(entry, str):
                    items.append((entry, {}, path + (i,)))
                elif isinstance(entry, dict) and len(entry) == 1:
                    (k, v), = entry.items()
                    items.append((k, {"default": v}, path + (i,)))
                else:
                    self.err(path + (i,), None, path[0], "list entries must be a name or {name: default}")
        else:
            self.err(path, None, path[0], "must be a mapping of input name to its declaration")
            return ()
        params = []
        for pname, decl, ppath in items:
            field = f"{path[0]}.{pname}"
            if not isinstance(pname, str) or not TASK_NAME_RE.match(pname):
                self.err(ppath, None, field, "input names must be identifiers")
                continue
            if decl is None:
                decl = {}
            if not isinstance(decl, dict):
                self.err(ppath, None, field, "must be a mapping with type, required, default, enum, description")
                continue
            self.unknown_fields(decl, INPUT_FIELDS | SCHEMA_KEYWORDS | {"secret"}, ppath, None, prefix=f"{field}.")
            unchecked = sorted(k for k in decl if k in SCHEMA_KEYWORDS)
            if unchecked:
                self.err(ppath + (unchecked[0],), None, f"{field}.{unchecked[0]}",
                         f"not checked: relayflow checks an input's type, required, default and enum only "
                         f"({', '.join(unchecked)} {'is' if len(unchecked) == 1 else 'are'} kept as documentation)",
                         severity="warning")
            if decl.get("secret"):
                self.err(ppath + ("secret",), None, f"{field}.secret",
                         "relayflow keeps inputs as plain JSON in the execution's records: pass the name of a "
                         "secret (e.g. in AWS Secrets Manager) and read it inside the action instead",
                         severity="warning")
            ptype = decl.get("type")
            if ptype is not None and ptype not in INPUT_TYPES:
                self.err(ppath + ("type",), None, f"{field}.type",
                         f"unknown type {ptype!r}; use one of {', '.join(INPUT_TYPES)}")
                ptype = None
            required = decl.get("required", False)
            if not isinstance(required, bool):
                self.err(ppath + ("required",), None, f"{field}.required", "must be true or false")
                required = False
            enum = decl.get("enum")
            if enum is not None and not isinstance(enum, list):
                self.err(ppath + ("enum",), None, f"{field}.enum", "must be a list of allowed values")
                enum = None
            elif enum is not None:
                if not enum:
                    self.err(ppath + ("enum",), None, f"{field}.enum", "must list at least one allowed value")
                for i, choice in enumerate(enum):
                    if ptype and choice is not None and not type_matches(ptype, choice):
                        self.err(ppath + ("enum", i), None, f"{field}.enum",
                                 f"{choice!r} is not of type {ptype}")
            kwargs: dict[str, Any] = {}
            if "default" in decl:
                default = decl["default"]
                if _has_template(default):  # rendered at start; its type is checked then
                    dpath = ppath + (pname,) if list_form else ppath + ("default",)
                    self.start_templates.append((dpath, f"{field}.default", default, pname))
                    self.template(default, dpath, None, f"{field}.default")
                elif ptype and default is not None and not type_matches(ptype, default):
                    self.err(ppath + ("default",), None, f"{field}.default",
                             f"default {default!r} is not of type {ptype}")
                elif enum is not None and default is not None and default not in enum:
                    self.err(ppath + ("default",), None, f"{field}.default",
                             f"default {default!r} is not one of the enum values {enum}")
                kwargs["default"] = default
            params.append(InputParam(pname, ptype, required, enum=tuple(enum) if enum is not None else None,
                                     description=decl.get("description"), **kwargs))
        return tuple(params)

    def vars(self, raw: Any) -> dict[str, Any]:
        if raw is None:
            return {}
        entries = raw if isinstance(raw, list) else None
        if isinstance(raw, list):  # the seed project's list-of-single-key-maps form
            merged: dict[str, Any] = {}
            for i, entry in enumerate(raw):
                if isinstance(entry, dict) and len(entry) == 1:
                    merged.update(entry)
                else:
                    self.err(("vars", i), None, "vars", "list entries must be {name: value}")
            raw = merged
        if not isinstance(raw, dict):
            self.err(("vars",), None, "vars", "must be a mapping of variable name to initial value")
            return {}
        for k in raw:
            if not isinstance(k, str):
                self.err(("vars", k), None, "vars", f"variable name {k!r} must be text")
        self.template(raw, ("vars",), None, "vars")
        for k, v in raw.items():
            if isinstance(k, str) and _has_template(v):
                if entries is not None:
                    where = [i for i, e in enumerate(entries) if isinstance(e, dict) and k in e]
                    path = ("vars", where[-1], k)
                else:
                    path = ("vars", k)
                self.start_templates.append((path, f"vars.{k}", v, k))
        return dict(raw)

    def positive_number(self, data: dict, key: str, path: tuple, task: str | None,
                        allow_template: bool = False) -> Any:
        if key not in data or data[key] is None:
            return None
        value = data[key]
        if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):  # Attune accepts "30"
            value = float(value) if "." in value else int(value)
        if allow_template and isinstance(value, str) and "{{" in value:
            self.template(value, path + (key,), task, key)
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.err(path + (key,), task, key, "must be a positive number of seconds"
                     + (" or a \"{{ template }}\"" if allow_template else "") + f", not {value!r}")
            return None
        return value

    # -- tasks -------------------------------------------------------------
    def tasks(self, raw: Any) -> dict[str, TaskSpec] | None:
        if raw is None:
            self.err((), None, "tasks", "required field is missing")
            return None
        entries: list[tuple[Any, tuple]] = []
        if isinstance(raw, list):
            for i, t in enumerate(raw):
                if not isinstance(t, dict):
                    self.err(("tasks", i), None, "tasks", f"task #{i + 1} must be a mapping")
                    continue
                entries.append((t, ("tasks", i)))
        elif isinstance(raw, dict):
            for name, t in raw.items():
                if t is None:
                    t = {}
                if not isinstance(t, dict):
                    self.err(("tasks", name), str(name), "tasks", "a task must be a mapping")
                    continue
                if "name" in t and t["name"] != name:
                    self.err(("tasks", name, "name"), str(name), "name", "differs from the key naming the task")
                entries.append(({**t, "name": name}, ("tasks", name)))
        else:
            self.err(("tasks",), None, "tasks", "must be a list of tasks (or a map of name to task)")
            return None
        if not raw:
            self.err(("tasks",), None, "tasks", "a workflow needs at least one task")
            return None
        first_line: dict[str, int] = {}
        for t, path in entries:
            name = t.get("name")
            if isinstance(name, str):
                if name in first_line:
                    self.err(path, name, "name", f"duplicate task name (first defined on line {first_line[name]})")
                else:
                    first_line[name] = yamlpos.line_of(self.lines, path)
        self.task_names = set(first_line)
        result: dict[str, TaskSpec] = {}
        for t, path in entries:
            spec = self.task(t, path, sub=False)
            if spec is not None and spec.name not in result:
                result[spec.name] = spec
        return result

    def task(self, t: dict, path: tuple, sub: bool, parent: str | None = None) -> TaskSpec | None:
        """One task (or, with ``sub``, one sub-task of the parallel task ``parent``)."""
        name = t.get("name")
        valid_name = isinstance(name, str) and bool(TASK_NAME_RE.match(name))
        # Problems name a sub-task as PARENT/SUB ('/' cannot occur in a task name).
        label = (f"{parent}/{name}" if parent else name) if valid_name else None
        if name is None:
            self.err(path, parent, "name", "every task needs a name")
        elif not valid_name:
            self.err(path + ("name",), parent, "name",
                     f"task name {name!r} must start with a letter or '_' and hold letters, digits, '_', '.', '-'")
        elif name in COMMANDS and not sub:
            meaning = "a failure is handled, nothing more to run" if name == NOOP else "fail the workflow"
            self.err(path + ("name",), name, "name",
                     f"'{name}' is reserved: 'do: {name}' is an engine command ({meaning}); rename the task")
        if sub:  # 'tasks' in a sub-task is reported below as a nested parallel task
            self.unknown_fields(t, SUBTASK_FIELDS | {"tasks"} | ATTUNE_IGNORED_TASK_FIELDS, path, label, not_here={
                **{k: "a sub-task of a parallel task takes only "
                      f"{', '.join(sorted(SUBTASK_FIELDS))}; put '{k}' on the parallel task itself"
                   for k in TASK_FIELDS - SUBTASK_FIELDS - {"tasks"}},
                **ATTUNE_TASK_FIELDS})
        else:
            self.unknown_fields(t, TASK_FIELDS | ATTUNE_IGNORED_TASK_FIELDS, path, label, not_here=ATTUNE_TASK_FIELDS)
        ttype = t.get("type")
        if ttype is not None and ttype not in TASK_TYPES:
            self.err(path + ("type",), label, "type",
                     f"unknown type {ttype!r}; use one of {', '.join(TASK_TYPES)}{_suggest(str(ttype), set(TASK_TYPES))}")
            ttype = None
        action, workflow, subtasks = t.get("action"), t.get("workflow"), t.get("tasks")
        if ttype is None:
            ttype = "workflow" if workflow is not None else "parallel" if subtasks is not None else "action"
        if sub and ttype == "parallel":
            self.err(path + ("type",) if "type" in t else path + ("tasks",), label, "type",
                     "a parallel task cannot hold another parallel task")
        if action is not None and (not isinstance(action, str) or not action.strip()):
            self.err(path + ("action",), label, "action", "must be an action name such as core.echo")
        if workflow is not None and (not isinstance(workflow, str) or not NAME_RE.match(workflow)):
            self.err(path + ("workflow",), label, "workflow", "must be the name of a registered workflow")
        if ttype == "action":
            if workflow is not None:
                self.err(path + ("workflow",), label, "workflow",
                         "a task of type action runs 'action', not 'workflow' (use 'type: workflow' to run a child)")
            elif action is None:
                self.err(path, label, "action", "an action task needs 'action' (or 'workflow', or 'type: parallel')")
        elif ttype == "workflow":
            if workflow is None and isinstance(action, str) and action.strip():
                self.err(path + ("action",), label, "workflow",
                         f"write 'workflow: {action}' instead of 'action: {action}' (a workflow task names the "
                         "child workflow in 'workflow')")
            elif workflow is None:
                self.err(path, label, "workflow", "a workflow task needs 'workflow: NAME'")
            elif action is not None:
                self.err(path + ("action",), label, "action",
                         "a workflow task runs its 'workflow' and takes no 'action'; give one of them")
        elif ttype == "parallel":
            for key in ("action", "workflow"):
                if t.get(key) is not None:
                    self.err(path + (key,), label, key,
                             f"a parallel task runs its 'tasks' and takes no '{key}'; "
                             f"move it into a sub-task")
        if ttype == "action" and isinstance(action, str):
            self.check_action(action, t.get("input"), path, label)
        sub_specs: list[TaskSpec] = []
        if subtasks is not None and ttype != "parallel":
            self.err(path + ("tasks",), label, "tasks", f"only a 'type: parallel' task holds sub-tasks, not a {ttype} task")
        if ttype == "parallel" and not sub:
            if not isinstance(subtasks, list) or not subtasks:
                self.err(path + ("tasks",), label, "tasks",
                         "a parallel task needs 'tasks': a non-empty list of sub-tasks to run concurrently")
            else:
                seen: dict[str, int] = {}
                for i, st in enumerate(subtasks):
                    if not isinstance(st, dict):
                        self.err(path + ("tasks", i), label, "tasks", f"sub-task #{i + 1} must be a mapping")
                        continue
                    spec = self.task(st, path + ("tasks", i), sub=True, parent=label or str(name))
                    if spec is None:
                        continue
                    if spec.name in seen:
                        self.err(path + ("tasks", i, "name"), label, "tasks",
                                 f"duplicate sub-task name {spec.name!r} (first defined on line {seen[spec.name]})")
                        continue
                    seen[spec.name] = spec.line
                    sub_specs.append(spec)
        with_items = t.get("with_items")
        if with_items is not None:
            if isinstance(with_items, str):
                self.template(with_items, path + ("with_items",), label, "with_items",
                              expression="{{" not in with_items)
            elif not isinstance(with_items, list):
                self.err(path + ("with_items",), label, "with_items", "must be a template or a list")
        callback = t.get("callback", False)
        callback_schema = None
        if isinstance(callback, dict) and set(callback) == {"schema"} and isinstance(callback["schema"], dict):
            callback, callback_schema = True, callback["schema"]  # callback: {schema: ...} checks the result
        if not isinstance(callback, bool):
            self.err(path + ("callback",), label, "callback",
                     "must be true or false (or {schema: <JSON Schema of the callback's result>})")
            callback = False
        elif callback and ttype != "action":
            self.err(path + ("callback",), label, "callback",
                     f"only an action task can wait for a callback, not a {ttype} task")
        if callback and label is not None:
            self.callback_tasks.add(label)
        local = self.local(t, ttype, action, callback, path, label)
        task_input = t.get("input")
        if task_input is not None and not isinstance(task_input, dict) and not (
                isinstance(task_input, str) and "{{" in task_input):
            self.err(path + ("input",), label, "input", "must be a mapping (or a \"{{ template }}\" giving one)")
        self.template(task_input, path + ("input",), label, "input", item_scope=with_items is not None)
        when = t.get("when")
        if when is not None:
            self.condition(when, path + ("when",), label, "when")
        batch_size = t.get("batch_size")
        if batch_size is not None:
            if with_items is None:
                self.err(path + ("batch_size",), label, "batch_size", "only applies to a task with with_items")
            if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
                self.err(path + ("batch_size",), label, "batch_size", f"must be a positive integer, not {batch_size!r}")
                batch_size = None
        concurrency = t.get("concurrency")
        if concurrency is not None:
            if with_items is None and ttype != "parallel":
                self.err(path + ("concurrency",), label, "concurrency",
                         "only applies to a task with with_items or a parallel task")
            if isinstance(concurrency, str) and "{{" in concurrency:
                self.template(concurrency, path + ("concurrency",), label, "concurrency")
            elif not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
                self.err(path + ("concurrency",), label, "concurrency",
                         f"must be a positive integer or a \"{{{{ template }}}}\", not {concurrency!r}")
                concurrency = None
        timeout = self.positive_number(t, "timeout", path, label, allow_template=True)
        retry = self.retry(t.get("retry"), path + ("retry",), label) if "retry" in t else None
        join = t.get("join")
        if join is not None and join != "all" and (not isinstance(join, int) or isinstance(join, bool) or join < 1):
            self.err(path + ("join",), label, "join", f"must be 'all' or a positive integer, not {join!r}")
            join = None
        publish = self.publish(t.get("publish"), path + ("publish",), label, "publish") if "publish" in t else ()
        transitions = () if sub else self.transitions(t, path, label)
        if label is None:
            return None
        return TaskSpec(
            name=name, line=yamlpos.line_of(self.lines, path), type=ttype,
            action=action if isinstance(action, str) else None,
            workflow=workflow if isinstance(workflow, str) else None,
            input=task_input, when=when, with_items=with_items, batch_size=batch_size,
            concurrency=concurrency, retry=retry, timeout=timeout, join=join, publish=publish,
            next=transitions, subtasks=tuple(sub_specs), callback=callback, callback_schema=callback_schema,
            description=t.get("description"), local=local,
        )

    def local(self, t: dict[str, Any], ttype: str, action: Any, callback: bool, path: tuple,
              task: str | None) -> bool:
        """``local: true``: only an action that answers at once may run inside the step."""
        local = t.get("local", False)
        if not isinstance(local, bool):
            self.err(path + ("local",), task, "local", f"must be true or false, not {local!r}")
            return False
        if not local:
            return False
        why = None
        if ttype != "action":
            why = f"a {ttype} task waits for what it starts"
        elif callback:
            why = "a task with 'callback: true' waits for its callback"
        elif isinstance(action, str) and action not in LOCAL_BUILTINS and not action.startswith("python:"):
            why = (f"{action!r} waits (or calls out); only python: actions and "
                   f"{', '.join(sorted(LOCAL_BUILTINS))} run inside the step")
        if why is not None:
            self.err(path + ("local",), task, "local", f"'local: true' is for short actions that wait on "
                     f"nothing: {why}; remove 'local' to run it on a worker")
            return False
        return True

    def check_action(self, action: str, task_input: Any, path: tuple, task: str | None) -> None:
        """What can be told about an action before it runs: a python: reference's shape, the
        built-ins' names and the inputs they cannot do without."""
        if action.startswith("python:"):
            parts = action.split(":")
            if len(parts) != 3 or not all(p.strip() for p in parts[1:]) or not all(
                    re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", p) for p in parts[1:]):
                self.err(path + ("action",), task, "action",
                         f"write a python action as python:<module>:<function> (e.g. python:etl:load_file), "
                         f"not {action!r}")
            return
        if action.startswith("core.") and action not in BUILTIN_ACTIONS:
            # core.* names only the built-ins, so this one cannot exist: it would fail as UnknownAction.
            self.err(path + ("action",), task, "action",
                     f"unknown built-in action {action!r}{_suggest(action, BUILTIN_ACTIONS)}; the core actions "
                     f"are {', '.join(sorted(BUILTIN_ACTIONS))}")
            return
        if action.startswith("aws.") and action not in AWS_ACTIONS:
            self.err(path + ("action",), task, "action",
                     f"unknown built-in action {action!r}; the aws actions are {', '.join(sorted(AWS_ACTIONS))}")
            return
        needs = BUILTIN_INPUTS.get(action)
        if needs and isinstance(task_input, dict) and needs not in task_input:
            self.err(path + ("input",), task, "input", f"{action} needs input.{needs}")
        elif needs and task_input is None:
            self.err(path, task, "input", f"{action} needs input.{needs}")

    def condition(self, value: Any, path: tuple, task: str | None, field: str) -> None:
        if isinstance(value, bool):
            return
        if not isinstance(value, str):
            self.err(path, task, field, "must be a template such as \"{{ succeeded() }}\" or true/false")
            return
        self.template(value, path, task, field, expression="{{" not in value)

    def retry(self, raw: Any, path: tuple, task: str | None) -> RetrySpec | None:
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            return RetrySpec(count=raw)
        if not isinstance(raw, dict):
            self.err(path, task, "retry",
                     "must be a number of retries or a mapping {count, delay, backoff, max_delay, jitter, on_error}")
            return None
        self.unknown_fields(raw, RETRY_FIELDS, path, task, prefix="retry.")
        count = raw.get("count", 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.err(path + ("count",), task, "retry.count", f"must be a non-negative integer, not {count!r}")
            count = 0
        numbers: dict[str, float | None] = {}
        for key in ("delay", "max_delay"):
            value = raw.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                self.err(path + (key,), task, f"retry.{key}", f"must be a non-negative number of seconds, not {value!r}")
                value = None
            numbers[key] = value
        backoff = raw.get("backoff", "constant")
        if backoff not in BACKOFFS:
            self.err(path + ("backoff",), task, "retry.backoff",
                     f"unknown backoff {backoff!r}; use one of {', '.join(BACKOFFS)}")
            backoff = "constant"
        jitter = raw.get("jitter", False)
        if not isinstance(jitter, bool):
            self.err(path + ("jitter",), task, "retry.jitter", "must be true or false")
            jitter = False
        on_error = raw.get("on_error")
        if on_error is not None:
            self.condition(on_error, path + ("on_error",), task, "retry.on_error")
        return RetrySpec(count=count, delay=numbers["delay"] or 0.0, backoff=backoff,
                         max_delay=numbers["max_delay"], jitter=jitter, on_error=on_error)

    def publish(self, raw: Any, path: tuple, task: str | None, field: str) -> tuple[tuple[str, Any], ...]:
        pairs: list[tuple[str, Any, tuple]] = []
        if isinstance(raw, dict):
            pairs = [(k, v, path + (k,)) for k, v in raw.items()]
        elif isinstance(raw, list):
            for i, entry in enumerate(raw):
                if isinstance(entry, dict) and len(entry) == 1:
                    (k, v), = entry.items()
                    pairs.append((k, v, path + (i,)))
                elif isinstance(entry, str) and TASK_NAME_RE.match(entry):
                    pairs.append((entry, "{{ result() }}", path + (i,)))  # a bare name publishes the result
                else:
                    self.err(path + (i,), task, field, "each entry must be a single {name: template}")
        elif raw is not None:
            self.err(path, task, field, "must be a list of {name: template} (or a mapping)")
        out = []
        for k, v, p in pairs:
            if not isinstance(k, str) or not k:
                self.err(p, task, field, f"variable name {k!r} must be text")
                continue
            self.template(v, p, task, f"{field}.{k}")
            self.published.add(k)
            out.append((k, v))
        return tuple(out)

    def targets(self, raw: Any, path: tuple, task: str | None, field: str
                ) -> tuple[tuple[str, ...], frozenset[str]]:
        """The task names of a ``do`` and the engine commands (noop, fail) beside them."""
        names = _as_names(raw)
        if names is None:
            self.err(path, task, field, "must be a task name or a list of task names")
            return (), frozenset()
        commands = frozenset(n for n in names if n in COMMANDS)
        for n in names:
            if n in self.task_names or n in COMMANDS:
                continue
            if n in _ENGINE_COMMANDS:
                self.err(path, task, field, f"unknown task '{n}': {_ENGINE_COMMANDS[n]}")
            else:
                self.err(path, task, field, f"unknown task '{n}'{_suggest(n, self.task_names)}")
        if commands == {NOOP, FAIL}:
            self.err(path, task, field, "'noop' (the failure is handled) and 'fail' (fail the workflow) "
                                        "contradict each other; give one")
        elif FAIL in commands and len(names) > 1:
            others = ", ".join(n for n in names if n != FAIL)
            self.err(path, task, field, f"'fail' fails the workflow fast: {others} will not start",
                     severity="warning")
        return tuple(n for n in names if n in self.task_names), commands

    def transitions(self, t: dict, path: tuple, task: str | None) -> tuple[Transition, ...]:
        out: list[Transition] = []
        line = lambda key: yamlpos.line_of(self.lines, path + (key,))  # noqa: E731
        has_timeout = "on_timeout" in t
        legacy = (
            ("on_success", frozenset({SUCCEEDED})),
            ("on_failure", frozenset({FAILED}) if has_timeout else frozenset({FAILED, TIMED_OUT})),
            ("on_timeout", frozenset({TIMED_OUT})),
            ("on_complete", None),
        )
        for key, outcomes in legacy:
            if key not in t:
                continue
            raw = t[key]
            if isinstance(raw, list) and any(isinstance(e, dict) for e in raw):
                out.extend(self.conditional_legacy(raw, path + (key,), task, key, outcomes))
                continue
            do, commands = self.targets(raw, path + (key,), task, key)
            out.append(Transition(origin=key, line=line(key), outcomes=outcomes, do=do, commands=commands))
        if "decision" in t:
            out.append(self.decision(t["decision"], path + ("decision",), task))
        if "next" in t:
            raw = t["next"]
            if not isinstance(raw, list):
                self.err(path + ("next",), task, "next", "must be a list of {when, publish, do}")
            else:
                for i, entry in enumerate(raw):
                    epath = path + ("next", i)
                    field = f"next[{i}]"
                    if not isinstance(entry, dict):
                        self.err(epath, task, field, "must be a mapping {when, publish, do}")
                        continue
                    self.unknown_fields(entry, NEXT_FIELDS, epath, task, prefix=f"{field}.")
                    when = entry.get("when")
                    if when is not None:
                        self.condition(when, epath + ("when",), task, f"{field}.when")
                    publish = self.publish(entry.get("publish"), epath + ("publish",), task, f"{field}.publish")
                    do, commands = self.targets(entry["do"], epath + ("do",), task, f"{field}.do") \
                        if "do" in entry else ((), frozenset())
                    out.append(Transition(origin=field, line=yamlpos.line_of(self.lines, epath),
                                          when=when, publish=publish, do=do, commands=commands))
                self.check_failed_and_timed_out(raw, path + ("next",), task)
        return tuple(out)

    def check_failed_and_timed_out(self, entries: list, path: tuple, task: str | None) -> None:
        """Attune's failed() excludes timeouts; here it includes them, so both entries fire on a timeout."""
        def plain(when: Any) -> str:
            return re.sub(r"[\s{}]", "", when).lower() if isinstance(when, str) else ""
        whens = [plain(e.get("when")) if isinstance(e, dict) else "" for e in entries]
        if "timed_out()" not in whens:
            return
        for i, when in enumerate(whens):
            if when == "failed()":
                self.err(path + (i, "when"), task, f"next[{i}].when",
                         "failed() is true for timeouts too, so on a timeout this entry fires as well as the "
                         "timed_out() one; if it should not, write \"{{ failed() and not timed_out() }}\"",
                         severity="warning")

    def conditional_legacy(self, raw: list, path: tuple, task: str | None, key: str,
                           outcomes: frozenset[str] | None) -> list[Transition]:
        """``on_success: [{when, do}, ...]`` (the seed project's install_packs.yaml): one entry per item,
        each firing on the field's outcome when its ``when`` holds."""
        out = []
        for i, entry in enumerate(raw):
            epath, field = path + (i,), f"{key}[{i}]"
            if isinstance(entry, str):
                do, commands = self.targets(entry, epath, task, field)
                out.append(Transition(origin=field, line=yamlpos.line_of(self.lines, epath), outcomes=outcomes,
                                      do=do, commands=commands))
                continue
            if not isinstance(entry, dict):
                self.err(epath, task, field, "must be a task name or {when, do}")
                continue
            self.unknown_fields(entry, {"when", "do"}, epath, task, prefix=f"{field}.")
            when = entry.get("when")
            if when is not None:
                self.condition(when, epath + ("when",), task, f"{field}.when")
            raw_do = entry.get("do")
            if isinstance(raw_do, list) and any(isinstance(d, dict) for d in raw_do):
                self.err(epath + ("do",), task, f"{field}.do",
                         "'do' lists task names; for a choice nested in a choice, give each combination its own "
                         "entry with both conditions in its 'when' (\"{{ A and B }}\")")
                continue
            if raw_do is None:
                self.err(epath, task, field, "needs 'do': the task(s) to run")
                continue
            do, commands = self.targets(raw_do, epath + ("do",), task, f"{field}.do")
            out.append(Transition(origin=field, line=yamlpos.line_of(self.lines, epath), outcomes=outcomes,
                                  when=when, do=do, commands=commands))
        return out

    def decision(self, raw: Any, path: tuple, task: str | None) -> Transition:
        branches: list[Branch] = []
        if not isinstance(raw, list):
            self.err(path, task, "decision", "must be a list of {when, next} branches")
            raw = []
        for i, b in enumerate(raw):
            bpath = path + (i,)
            field = f"decision[{i}]"
            if not isinstance(b, dict):
                self.err(bpath, task, field, "must be a mapping {when, next} or {default: true, next}")
                continue
            self.unknown_fields(b, BRANCH_FIELDS, bpath, task, prefix=f"{field}.")
            target_key = "next" if "next" in b else "do"
            if "next" in b and "do" in b:
                self.err(bpath + ("do",), task, f"{field}.do", "give the branch's target as 'next' or 'do', not both")
            if target_key not in b:
                self.err(bpath, task, field, "needs 'next': the task to run")
                continue
            do, commands = self.targets(b[target_key], bpath + (target_key,), task, f"{field}.{target_key}")
            default = b.get("default", False)
            if not isinstance(default, bool):
                self.err(bpath + ("default",), task, f"{field}.default", "must be true or false")
                default = False
            when = b.get("when")
            if when is None and not default:
                self.err(bpath, task, field, "needs 'when' (or 'default: true')")
            if when is not None:
                self.condition(when, bpath + ("when",), task, f"{field}.when")
            branches.append(Branch(when=when, do=do, default=default, commands=commands))
        if sum(b.default for b in branches) > 1:
            self.err(path, task, "decision", "only one branch may be the default")
        return Transition(origin="decision", line=yamlpos.line_of(self.lines, path),
                          outcomes=frozenset({SUCCEEDED}), decision=tuple(branches))

    # -- graph -------------------------------------------------------------
    def check_graph(self, tasks: dict[str, TaskSpec], succ: dict, inb: dict, entry: tuple, data: dict) -> None:
        raw_tasks = data.get("tasks")
        path_of = {}
        if isinstance(raw_tasks, list):
            for i, t in enumerate(raw_tasks):
                if isinstance(t, dict) and isinstance(t.get("name"), str):
                    path_of.setdefault(t["name"], ("tasks", i))
        else:
            path_of = {name: ("tasks", name) for name in tasks}
        if not entry:
            self.err(("tasks",), None, "tasks",
                     "no entry task: every task is the target of a transition, so nothing can start")
        else:
            reached = graph.reachable(succ, entry)
            for name in tasks:
                if name not in reached:
                    tail = (f" (only {', '.join(inbound_of)} lead{'s' if len(inbound_of) == 1 else ''} here, "
                            "and no entry task leads there)") if (inbound_of := inb[name]) else ""
                    self.err(path_of.get(name, ("tasks",)), name, "name",
                             f"unreachable: no path leads here from an entry task{tail}")
        cyclic = graph.in_cycles(succ)
        for name, task in tasks.items():
            p = path_of.get(name, ("tasks",))
            if task.join is not None:
                if name in cyclic:
                    self.err(p + ("join",), name, "join",
                             "a join task cannot be inside a cycle (a loop passes through it); remove 'join' "
                             "or move the loop")
                if isinstance(task.join, int) and task.join > len(inb[name]):
                    leading = f" ({', '.join(inb[name])})" if inb[name] else ""
                    self.err(p + ("join",), name, "join",
                             f"waits for {task.join} inbound tasks but only {len(inb[name])} "
                             f"lead{'s' if len(inb[name]) == 1 else ''} here{leading}; "
                             "it could never run")
            elif len(inb[name]) > 1 and name not in cyclic:
                self.err(p, name, "join",
                         f"{len(inb[name])} tasks lead here ({', '.join(inb[name])}) and there is no 'join': "
                         "it runs once per arrival", severity="warning")
        for name, task in tasks.items():
            self.check_failure_into_joins(task, tasks, path_of.get(name, ("tasks",)))
        if cyclic and entry:  # without an entry task nothing runs (reported above)
            self.check_endless_loops(tasks, path_of, data.get("max_task_runs", DEFAULT_MAX_TASK_RUNS))

    def check_endless_loops(self, tasks: dict[str, TaskSpec], path_of: dict, max_runs: Any) -> None:
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
                self.err(path_of.get(name, ("tasks",)) + ((key, int(index)) if index else (key,)), name, origin,
                         message, severity="error" if sure else "warning")

    def check_failure_into_joins(self, task: TaskSpec, tasks: dict[str, TaskSpec], path: tuple) -> None:
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
        self.err(path + ((key, int(index)) if index else (key,)), task.name, entries[0].origin,
                 f"a failure of {task.name} goes only into the join {joins}: if that join is never satisfied "
                 f"(its other inbound tasks do not all fire into it), it ends skipped and this failure fails the "
                 f"workflow; to handle the failure either way, add a task or 'noop' to the 'do'",
                 severity="warning")
