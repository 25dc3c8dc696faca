"""The names a template sees (LANGUAGE.md §8), built lazily.

``vars`` and ``task`` are views that load a variable or a task's latest run
only when a template reads it, so rendering costs what the template uses, not
what the execution holds.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from .errors import RelayflowError
from .records import TaskRun
from .status import RunStatus
from .session import Session


class StoreUnavailable(RelayflowError):
    """A template's lazy read failed in the store: retry the step, do not blame the template."""


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except RelayflowError:
        raise
    except Exception as exc:
        raise StoreUnavailable(f"reading state for a template failed: {type(exc).__name__}: {exc}") from exc


class VarsView(Mapping[str, Any]):
    def __init__(self, session: Session):
        self._session = session

    def __getitem__(self, name: str) -> Any:
        with _store_errors():
            found, value = self._session.var(name)
        if not found:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._session.all_vars())

    def __len__(self) -> int:
        return len(self._session.all_vars())

    def __repr__(self) -> str:
        return repr(self._session.all_vars())


def run_view(run: TaskRun) -> dict[str, Any]:
    return {"status": run.status, "result": run.result, "error": run.error, "attempts": run.attempts,
            "run": run.run, "started_at": run.started_at, "finished_at": run.finished_at}


class TasksView(Mapping[str, Any]):
    """``task.NAME``: the latest run of NAME."""

    def __init__(self, session: Session, names: Mapping[str, Any]):
        self._session = session
        self._names = names

    def __getitem__(self, name: str) -> dict[str, Any]:
        with _store_errors():
            run = self._session.latest_run(name) if name in self._names else None
        if run is None:
            raise KeyError(name)
        return run_view(run)

    def __iter__(self) -> Iterator[str]:
        return (n for n in self._names if self._session.latest_run(n) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def build(session: Session, task_names: Mapping[str, Any], *, input: Mapping[str, Any],
          system: Mapping[str, Any], current: TaskRun | None = None,
          status: str | None = None, result: Any = None, error: Any = None,
          extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The template context; ``current`` (or explicit status/result/error) feeds result(), error()...."""
    if current is not None:
        status, result, error = current.status, current.result, current.error
    variables = VarsView(session)
    tasks = TasksView(session, task_names)

    def is_(*statuses: str) -> Callable[[], bool]:
        return lambda: status in statuses

    ctx: dict[str, Any] = {
        "input": input, "parameters": input,
        "vars": variables, "variables": variables, "workflow": variables,
        "task": tasks, "tasks": tasks,
        "system": system,
        "result": lambda: result, "error": lambda: error,
        "succeeded": is_(RunStatus.SUCCEEDED), "failed": is_(RunStatus.FAILED, RunStatus.TIMED_OUT),
        "timed_out": is_(RunStatus.TIMED_OUT), "skipped": is_(RunStatus.SKIPPED),
    }
    if extra:
        ctx.update(extra)
    return ctx
