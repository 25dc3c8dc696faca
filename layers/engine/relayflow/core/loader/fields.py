"""The fields a workflow, a task, an input, a retry and a transition may have, and the
names and types the checks know (Attune and Orquesta fields among them)."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..templates import analysis

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
AWS_ACTIONS = {"aws.lambda"}
# JSON Schema keywords an input declaration may carry; relayflow checks only INPUT_FIELDS.
SCHEMA_KEYWORDS = {"items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum",
                   "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "properties",
                   "additionalProperties", "title", "examples", "multipleOf", "const"}

SCOPES = {"input", "parameters", "vars", "variables", "workflow", "task", "tasks", "item", "index",
          "system", "callback"}
FUNCTIONS = analysis.OUTCOME_FUNCTIONS
# Fields rendered with no finished task in scope, where result() and the outcome functions are null.
_NO_OUTCOME_FIELDS = {"input", "parameters", "with_items", "concurrency", "timeout", "when", "output", "output_map",
                      "vars"}
_RUN_FIELDS = analysis.RUN_VIEW_KEYS - {"get", "keys", "values", "items"}

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
