"""The live graph page: one self-contained HTML file (inline CSS, JS and SVG; no CDN).

Served at ``/ui/executions/{id}`` by the API (and so by ``relayflow serve``); it
polls ``/executions/{id}/graph`` next to it and draws every task with its
status, runs and attempts until the execution ends.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def execution_page() -> str:
    return resources.files(__package__).joinpath("execution.html").read_text(encoding="utf-8")
