"""The execution summary: what ``relayflow run --json`` prints, the API's ``GET /executions/{id}``
answers and ``relayflow test`` compares, in one shape.

The engine builds it (``Engine.describe``); the CLI prints it as it comes, whether from a local
stack or from the API, and ``relayflow test`` checks expectations against it. Its keys are a
contract (DESIGN §4): exactly ``RESULT_KEYS``, and each task run exactly ``TASK_RUN_KEYS``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from .core.records import Execution, TaskRun, run_timings

__all__ = ["RESULT_KEYS", "TASK_RUN_KEYS", "TIMING_KEYS", "ExecutionSummary", "TaskRunSummary", "summarize",
           "summary_from"]


class TaskRunSummary(TypedDict):
    name: str
    run: int
    status: str
    attempts: int
    result: Any
    error: dict[str, Any] | None


class ExecutionSummary(TypedDict):
    execution_id: str
    workflow: str
    status: str
    output: Any
    error: dict[str, Any] | None
    tasks: list[TaskRunSummary]


RESULT_KEYS: tuple[str, ...] = tuple(ExecutionSummary.__annotations__)
TASK_RUN_KEYS: tuple[str, ...] = tuple(TaskRunSummary.__annotations__)
# What a task run carries besides, when timings are asked for (`status --json`, the API).
TIMING_KEYS: tuple[str, ...] = ("started_at", "finished_at", "duration", "attempt_timings")


def summarize(head: Execution, runs: Iterable[TaskRun], timings: bool = False) -> ExecutionSummary:
    """The summary of the execution ``head`` whose task runs are ``runs`` (in the order they started);
    with ``timings``, each run also has ``TIMING_KEYS``."""
    return {
        "execution_id": head.id, "workflow": head.workflow, "status": head.status,
        "output": head.output, "error": head.error,
        "tasks": [{"name": r.task, "run": r.run, "status": r.status, "attempts": r.attempts,
                   "result": r.result, "error": r.error, **(run_timings(r) if timings else {})}  # type: ignore[typeddict-item]
                  for r in runs],
    }


def summary_from(data: Mapping[str, Any], timings: bool = False) -> ExecutionSummary:
    """A summary read back from JSON (an API's answer), refused when it is not one: a server of
    another version answering another shape is an error, not half a summary. With ``timings``, each
    task run keeps ``TIMING_KEYS`` too (null where the server gave none)."""
    missing = [k for k in RESULT_KEYS if k not in data]
    tasks = data.get("tasks")
    if missing or not isinstance(tasks, list):
        raise ValueError(f"not an execution summary: missing {', '.join(missing) or 'a list of tasks'}")
    for i, run in enumerate(tasks):
        lacking = [k for k in TASK_RUN_KEYS if not isinstance(run, Mapping) or k not in run]
        if lacking:
            raise ValueError(f"not an execution summary: task run {i} lacks {', '.join(lacking)}")
    out: dict[str, Any] = {k: data[k] for k in RESULT_KEYS}
    out["tasks"] = [{**{k: run[k] for k in TASK_RUN_KEYS}, **({k: run.get(k) for k in TIMING_KEYS} if timings else {})}
                    for run in tasks]
    return out  # type: ignore[return-value]  # built key by key from the TypedDict's own keys
