"""Reading workflow files and turning text into a spec: the loader's entry points."""
from __future__ import annotations

import gc
import os

from .. import (
    yamlblock,  # noqa: F401 - imported with the loader, not inside its first load (see yamlfast.load)
    yamlfast,
    yamlpos,
)
from ..errors import Problem, ValidationError
from ..spec import (
    WorkflowSpec,
)
from .builder import Builder


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


def parse(text: str, source: str = "<string>", *, precise: bool = False) -> tuple[WorkflowSpec | None, list[Problem]]:
    """Validate; return the spec (None when there are errors) and every problem found.

    A plain document is read the quick way (``yamlfast``); anything else, and every
    document with ``precise``, through ``yamlpos``: the two give the same data and lines."""
    # Reading and validation build many small objects and no garbage cycles; the cyclic collector
    # would rescan the growing document again and again (as in yamlpos.load). It stays off from
    # the reading to the end of validation: turned on in between, its first pass would walk every
    # value just read.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        quick = None if precise else yamlfast.load(text)
        lines: yamlpos.Lines
        if quick is not None:
            data, lines = quick
        else:
            try:
                data, lines = yamlpos.load(text)
            except yamlpos.YamlSyntaxError as exc:
                return None, [Problem(source, exc.line, None, "yaml", str(exc))]
        builder = Builder(source, lines, text)
        spec = builder.build(data)
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                # Everything built since is moved to the oldest generation at once: the collector
                # counted each allocation while off, and its first young collection would walk
                # them all (about 30 ms of a 10,000-task load). Skipped when the process froze objects
                # of its own, which unfreezing would release.
                gc.freeze()
                gc.unfreeze()
            gc.enable()
    problems = sorted(builder.problems, key=lambda p: (p.line, p.severity != "error"))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return spec, problems
