"""Load and validate a workflow file into a :class:`~relayflow.core.spec.WorkflowSpec`.

Validation collects every problem before giving up, so an author fixes a file in
one pass; each problem names the file, line, task and field.

``files``: the entry points (read, parse, load); ``builder``: the workflow-level
fields, inputs and vars; ``task_section`` and ``transition_section``: a task and its
transitions; ``template_checks``: what templates may read where; ``graph_checks``:
unreachable tasks, endless loops, failures fed only into joins; ``fields`` and
``hints``: the field tables and the "did you mean" hints.
"""
from __future__ import annotations

from .fields import RETRY_FIELDS, TASK_FIELDS, WORKFLOW_FIELDS
from .files import load_file, load_text, parse, parse_file, read_file, workflow_files

__all__ = ["RETRY_FIELDS", "TASK_FIELDS", "WORKFLOW_FIELDS", "load_file", "load_text", "parse", "parse_file",
           "read_file", "workflow_files"]
