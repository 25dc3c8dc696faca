"""The `publish` field: a task's and a transition's published variables."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fields import TASK_NAME_RE
from ..yamlpos import Path
from . import template_checks

if TYPE_CHECKING:
    from .builder import Builder


def publish_pairs(b: Builder, raw: Any, path: Path, task: str | None, field: str) -> tuple[tuple[str, Any], ...]:
    pairs: list[tuple[str, Any, Path]] = []
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
                b.err(path + (i,), task, field, "each entry must be a single {name: template}")
    elif raw is not None:
        b.err(path, task, field, "must be a list of {name: template} (or a mapping)")
    out = []
    for k, v, p in pairs:
        if not isinstance(k, str) or not k:
            b.err(p, task, field, f"variable name {k!r} must be text")
            continue
        template_checks.template(b, v, p, task, f"{field}.{k}")
        b.published.add(k)
        out.append((k, v))
    return tuple(out)
