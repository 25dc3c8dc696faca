"""The `publish` field: a task's and a transition's published variables."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..yamlpos import Path
from . import template_checks
from .fields import TASK_NAME_RE

if TYPE_CHECKING:
    from .builder import Builder


def publish_pairs(b: Builder, raw: Any, path: Path, task: str | None, field: str) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            _pair(b, out, k, v, path + (k,), task, field)
    elif isinstance(raw, list):
        for i, entry in enumerate(raw):
            if isinstance(entry, dict) and len(entry) == 1:
                (k, v), = entry.items()
                _pair(b, out, k, v, path + (i,), task, field)
            elif isinstance(entry, str) and TASK_NAME_RE.match(entry):
                _pair(b, out, entry, "{{ result() }}", path + (i,), task, field)  # a bare name publishes the result
            else:
                b.err(path + (i,), task, field, "each entry must be a single {name: template}")
    elif raw is not None:
        b.err(path, task, field, "must be a list of {name: template} (or a mapping)")
    return tuple(out)


def _pair(b: Builder, out: list[tuple[str, Any]], k: Any, v: Any, path: Path, task: str | None, field: str) -> None:
    if not isinstance(k, str) or not k:
        b.err(path, task, field, f"variable name {k!r} must be text")
        return
    template_checks.template(b, v, path, task, f"{field}.{k}")
    b.published.add(k)
    out.append((k, v))
