"""The console: one self-contained HTML page (inline CSS and JS, the dagre layout library
vendored inline; no CDN, works offline).

Served by the API (so by ``relayflow serve`` and by a deployed stack) at ``/ui``
(the executions, with filters and paging) and ``/ui/executions/{id}`` (one
execution: its graph with live status and item progress, a detail panel per run
and item, a timeline, the history, a form per pending approval, and pause /
resume / cancel / redrive). It only calls the API next to it.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

__all__ = ["console_page", "execution_page"]


@lru_cache(maxsize=1)
def console_page() -> str:
    here = resources.files(__package__)
    page = here.joinpath("console.html").read_text(encoding="utf-8")
    dagre = here.joinpath("vendor", "dagre.min.js").read_text(encoding="utf-8")
    # dagre (MIT, vendor/dagre.LICENSE) inline: the page makes no request but to the API.
    return page.replace("<script>/*DAGRE*/</script>", "<script>/* @dagrejs/dagre, MIT licence */\n" + dagre
                        .replace("</script", "<\\/script") + "</script>", 1)


def execution_page() -> str:
    return console_page()
