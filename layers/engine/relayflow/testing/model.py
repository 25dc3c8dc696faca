"""What a test file holds: its cases, their mocks and expectations."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core import messages as _messages
from ..core.spec import WorkflowSpec
from ..errors import PermanentError

# How a token-holding unit (approval, callback task) is answered, where the engine has it.
CALLBACK = getattr(_messages, "CallbackReceived", None)
MAX_DELIVERIES = 200_000
STATUSES = ("succeeded", "failed", "timed_out", "cancelled")
FILE_FIELDS = {"workflow", "workflows", "cases", "description"}
CASE_FIELDS = {"name", "description", "input", "mocks", "child_mocks", "expect"}
OUTCOME_KEYS = {"result", "fail", "timeout", "real"}
SELECTOR_KEYS = {"runs", "items", "default"}
FAIL_FIELDS = {"type", "message", "result"}
EXPECT_FIELDS = {
    "status", "output", "output_includes", "error", "ran", "attempts", "order", "inputs", "inputs_include",
    "results", "results_include", "statuses", "errors", "vars", "elapsed",
}
TASK_KEYED = ("attempts", "inputs", "inputs_include", "results", "results_include", "statuses", "errors")
MISSING = object()


class TestFileError(PermanentError):
    """A test file that cannot be run; ``problems`` are ``FILE:LINE: message`` lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# -- mocks -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    kind: str  # result | fail | timeout | real
    result: Any = None
    error: dict[str, Any] | None = None
    after: float = 0.0


@dataclass(frozen=True)
class Mock:
    """What a mocked task does: per attempt, or chosen per run / per item first."""

    attempts: tuple[Outcome, ...] = ()
    runs: tuple[Mock, ...] | dict[int, Mock] | None = None
    items: dict[int, Mock] | None = None
    default: Mock | None = None

    def outcome(self, run: int, index: int | None, attempt: int) -> Outcome | None:
        chosen: Mock | None
        if self.runs is not None:
            if isinstance(self.runs, tuple):
                chosen = self.runs[min(run, len(self.runs)) - 1] if self.runs else None
            else:
                chosen = self.runs.get(run, self.default)
            return None if chosen is None else chosen.outcome(run, index, attempt)
        if self.items is not None:
            chosen = self.items.get(index, self.default) if index is not None else self.default
            return None if chosen is None else chosen.outcome(run, index, attempt)
        if not self.attempts:
            return self.default.outcome(run, index, attempt) if self.default else None
        return self.attempts[min(attempt, len(self.attempts)) - 1]


# -- the test file -------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    line: int
    input: Any
    mocks: dict[str, Mock]
    child_mocks: dict[str, dict[str, Mock]]
    expect: dict[str, Any]


@dataclass
class TestFile:
    path: str
    workflow_path: str
    spec: WorkflowSpec
    extra: list[WorkflowSpec]
    cases: list[Case]
    warnings: list[str] = field(default_factory=list)




class MockRefused(PermanentError):
    """A mocked outcome the real service would refuse (an approval answer breaking its schema)."""


