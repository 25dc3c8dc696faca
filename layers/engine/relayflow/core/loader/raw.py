"""Small readers of raw YAML values: the strings inside a value, target lists, a name from a file path."""
from __future__ import annotations

import re
from typing import Any

from .fields import NAME_RE


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
