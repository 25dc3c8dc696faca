"""Template engine: sandboxed Jinja2 with native-typed lone expressions and limits.

A string that is exactly one ``{{ expression }}`` evaluates to the expression's
value (number, list, dict, ...); any other string containing ``{{`` or ``{%``
renders to text; every other string is returned as is.  Templates run in an
immutable sandbox with strict undefined names, a deadline, and size checks on
every operation that can grow a value far beyond its inputs.

``limits``: the budget of a render; ``sandbox``: the environment and what it lets a
template reach; ``rendering``: compile, render, evaluate, check; ``analysis``: what
a template reads, for the loader's checks.
"""
from __future__ import annotations

from .analysis import referenced_names, task_references
from .limits import Limits
from .rendering import check, check_expression, evaluate, render, truthy

__all__ = ["Limits", "check", "check_expression", "evaluate", "referenced_names", "render", "task_references",
           "truthy"]
