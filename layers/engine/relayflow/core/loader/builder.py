from __future__ import annotations

import re
from typing import Any

from .. import graph, yamlpos
from ..errors import Problem
from ..spec import (
    COMMANDS,
    DEFAULT_MAX_TASK_RUNS,
    INPUT_TYPES,
    InputParam,
    TaskSpec,
    WorkflowSpec,
)
from ..yamlfast import TreeLines
from ..yamlpos import Path
from . import graph_checks, task_section, template_checks
from .fields import (
    ATTUNE_DOC_FIELDS,
    ATTUNE_WORKFLOW_FIELDS,
    INPUT_FIELDS,
    NAME_RE,
    SCHEMA_KEYWORDS,
    TASK_NAME_RE,
    WORKFLOW_FIELDS,
    type_matches,
)
from .hints import _suggest
from .raw import _has_template, _looks_like_schema, _name_from_path


class Builder:
    def __init__(self, source: str, lines: yamlpos.Lines, text: str):
        self.source = source
        self.lines = lines
        self.text = text
        self.problems: list[Problem] = []
        self.task_names: set[str] = set()
        self.plain_targets: set[str] = set()
        self.callback_tasks: set[str] = set()
        self.template_uses: list[tuple[Path, str | None, str, str, bool, bool]] = []
        self.var_names: set[str] = set()
        self.input_names: set[str] = set()
        self.published: set[str] = set()
        # Input defaults and initial vars that are templates: (path, field, value, name), in order.
        self.start_templates: list[tuple[Path, str, Any, str]] = []
        self.known_vars: set[str] = set()

    def line_in(self, container: Any, key: Any, parent: Path) -> int:
        """The line of ``container[key]``, ``container`` being at ``parent``: looked up beside the
        container when the quick reading kept its lines (a task's and a transition's line, for
        every task), else found from the path."""
        line = self.lines.entry_line(container, key) if isinstance(self.lines, TreeLines) else None
        return line if line is not None else yamlpos.line_of(self.lines, parent + (key,))

    # -- reporting -------------------------------------------------------

    def err(self, path: Path, task: str | None, field: str, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(self.source, yamlpos.line_of(self.lines, path), task, field, message, severity))

    def unknown_fields(self, data: dict[str, Any], allowed: set[str], path: Path, task: str | None, prefix: str = "",
                       not_here: dict[str, str] | None = None) -> None:
        for key in data:
            if key in allowed:
                continue
            if not_here and key in not_here:
                self.err(path + (key,), task, f"{prefix}{key}", not_here[key])
            else:
                hint = _suggest(str(key), allowed, synonyms=True) or f"; allowed: {', '.join(sorted(allowed))}"
                self.err(path + (key,), task, f"{prefix}{key}", f"unknown field{hint}")

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
        template_checks.check_start_templates(self, inputs, vars_)
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
        template_checks.template(self, output, (out_key,), None, out_key)
        tasks = self.tasks(data.get("tasks"))
        template_checks.check_templates(self)
        if not tasks:  # missing, or no task with a usable name: the graph rules would only add noise
            return None
        succ = graph.edges(tasks)
        inb = graph.inbound(succ)
        entry = graph.entries(inb)
        graph_checks.check_graph(self, tasks, succ, inb, entry, data)
        return WorkflowSpec(
            name=name if isinstance(name, str) else "", tasks=tasks, source=self.source,
            description=str(data["description"]) if data.get("description") is not None else None,
            version=str(data["version"]) if data.get("version") is not None else None,
            inputs=inputs, vars=vars_, timeout=timeout, output=output, max_task_runs=max_runs,
            text=self.text, entries=entry, inbound=inb,
        )

    def workflow_name(self, data: dict[str, Any]) -> Any:
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

    def inputs(self, raw: Any, path: Path) -> tuple[InputParam, ...]:
        if raw is None:
            return ()
        if isinstance(raw, dict) and isinstance(raw.get("properties"), dict) and raw.get("type") == "object":
            # a full JSON Schema object: its properties are the inputs, 'required' lists the required ones
            required_names: list[Any] = raw["required"] if isinstance(raw.get("required"), list) else []
            raw = {k: ({**v, "required": True} if k in required_names and isinstance(v, dict) and "required" not in v
                       else v) for k, v in raw["properties"].items()}
            path = path + ("properties",)
        items: list[tuple[str, Any, Path]] = []
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
                    template_checks.template(self, default, dpath, None, f"{field}.default")
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
        template_checks.template(self, raw, ("vars",), None, "vars")
        for k, v in raw.items():
            if isinstance(k, str) and _has_template(v):
                if entries is not None:
                    where = [i for i, e in enumerate(entries) if isinstance(e, dict) and k in e]
                    path: Path = ("vars", where[-1], k)
                else:
                    path = ("vars", k)
                self.start_templates.append((path, f"vars.{k}", v, k))
        return dict(raw)

    def positive_number(self, data: dict[str, Any], key: str, path: Path, task: str | None,
                        allow_template: bool = False) -> Any:
        if key not in data or data[key] is None:
            return None
        value = data[key]
        if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):  # Attune accepts "30"
            value = float(value) if "." in value else int(value)
        if allow_template and isinstance(value, str) and "{{" in value:
            template_checks.template(self, value, path + (key,), task, key)
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
        entries: list[tuple[Any, Path, int]] = []  # (task, its path, its line)
        if isinstance(raw, list):
            # the list's own table of lines, when the quick reading kept one: a task's line at its index
            table = self.lines.lines_in(raw) if isinstance(self.lines, TreeLines) else None
            for i, t in enumerate(raw):
                if not isinstance(t, dict):
                    self.err(("tasks", i), None, "tasks", f"task #{i + 1} must be a mapping")
                    continue
                entries.append((t, ("tasks", i), table[i] + 1 if table is not None
                                else yamlpos.line_of(self.lines, ("tasks", i))))
        elif isinstance(raw, dict):
            for name, t in raw.items():
                if t is None:
                    t = {}
                if not isinstance(t, dict):
                    self.err(("tasks", name), str(name), "tasks", "a task must be a mapping")
                    continue
                if "name" in t and t["name"] != name:
                    self.err(("tasks", name, "name"), str(name), "name", "differs from the key naming the task")
                entries.append(({**t, "name": name}, ("tasks", name), self.line_in(raw, name, ("tasks",))))
        else:
            self.err(("tasks",), None, "tasks", "must be a list of tasks (or a map of name to task)")
            return None
        if not raw:
            self.err(("tasks",), None, "tasks", "a workflow needs at least one task")
            return None
        first_path: dict[str, Path] = {}  # its line is looked up only for a duplicate
        for t, path, _ in entries:
            name = t.get("name")
            if isinstance(name, str):
                if name in first_path:
                    first = yamlpos.line_of(self.lines, first_path[name])
                    self.err(path, name, "name", f"duplicate task name (first defined on line {first})")
                else:
                    first_path[name] = path
        self.task_names = set(first_path)
        # The names a transition's target may give alone, as they are, with nothing to report: the
        # targets' quick path (a name with a comma or spaces around it is split and stripped).
        self.plain_targets = {n for n in self.task_names if n and n == n.strip() and "," not in n} - set(COMMANDS)
        result: dict[str, TaskSpec] = {}
        for t, path, line in entries:
            spec = task_section.task(self, t, path, sub=False, line=line)
            if spec is not None and spec.name not in result:
                result[spec.name] = spec
        return result

