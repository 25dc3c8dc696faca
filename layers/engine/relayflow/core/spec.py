"""The validated, immutable form of a workflow definition.

The loader (``loader.py``) turns YAML into these objects; everything after it
(graph, conductor, CLI) works on them and never on raw dictionaries.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, make_dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from .status import RunStatus

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# The outcomes a transition can name (core/status.py is the source).
SUCCEEDED = RunStatus.SUCCEEDED.value
FAILED = RunStatus.FAILED.value
TIMED_OUT = RunStatus.TIMED_OUT.value
SKIPPED = RunStatus.SKIPPED.value
CANCELLED = RunStatus.CANCELLED.value

INPUT_TYPES = ("string", "integer", "number", "boolean", "object", "array")
BACKOFFS = ("constant", "linear", "exponential")
DEFAULT_MAX_TASK_RUNS = 1000

_NO_DEFAULT = object()

# Engine commands that may stand in a ``do`` list beside task names (so no task may be
# named so): ``noop`` handles a failure with nothing more to run, ``fail`` fails the workflow.
NOOP = "noop"
FAIL = "fail"
COMMANDS = (NOOP, FAIL)


# The per-task records are slotted: a frozen dataclass sets each field through object.__setattr__,
# which on a slot costs half what it costs in an instance dict, and the loader builds the task and
# transition records through quick_constructor (below), whose twin class needs the same slots.
@dataclass(frozen=True, slots=True)
class InputParam:
    name: str
    type: str | None = None
    required: bool = False
    default: Any = _NO_DEFAULT
    enum: tuple[Any, ...] | None = None
    description: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


@dataclass(frozen=True, slots=True)
class RetrySpec:
    count: int = 0
    delay: float = 0.0
    backoff: str = "constant"
    max_delay: float | None = None
    jitter: bool = False
    on_error: Any = None  # template, evaluated with error() and result() of the failed attempt


@dataclass(frozen=True, slots=True)
class Branch:
    """One branch of a legacy ``decision``: the first matching branch fires."""

    when: Any
    do: tuple[str, ...]
    default: bool = False
    commands: frozenset[str] = frozenset()  # noop / fail given beside (or instead of) task names


@dataclass(frozen=True, slots=True)
class Transition:
    """One entry of a task's ``next`` list (legacy fields are converted to these).

    It fires when the finished run's status is in ``outcomes`` (None: any
    status) and its ``when`` is true (None: always). A ``decision`` entry fires
    the first matching branch's targets instead of ``do``.
    """

    origin: str
    line: int
    when: Any = None
    outcomes: frozenset[str] | None = None
    publish: tuple[tuple[str, Any], ...] = ()
    do: tuple[str, ...] = ()
    decision: tuple[Branch, ...] | None = None
    commands: frozenset[str] = frozenset()  # noop / fail given in ``do`` beside task names

    def targets(self) -> tuple[str, ...]:
        if self.decision is None:
            return self.do
        return tuple(t for b in self.decision for t in b.do)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    line: int
    type: str = "action"  # action | parallel | workflow
    action: str | None = None
    workflow: str | None = None
    input: Any = None
    when: Any = None
    with_items: Any = None
    batch_size: int | None = None
    concurrency: Any = None
    retry: RetrySpec | None = None
    timeout: Any = None
    join: str | int | None = None
    publish: tuple[tuple[str, Any], ...] = ()
    next: tuple[Transition, ...] = ()
    subtasks: tuple[TaskSpec, ...] = ()
    callback: bool = False
    callback_schema: dict[str, Any] | None = None  # what a successful callback's result must match
    description: str | None = None
    local: bool = False  # run inside the step that dispatches it (no worker)

    def targets(self) -> tuple[str, ...]:
        """Every task this task can transition to, in declaration order, without repeats."""
        if len(self.next) == 1 and self.next[0].decision is None and len(self.next[0].do) < 2:
            return self.next[0].do  # one transition to one task (or none): most tasks of a large workflow
        seen: dict[str, None] = {}
        for t in self.next:
            for name in t.targets():
                seen.setdefault(name, None)
        return tuple(seen)


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    tasks: dict[str, TaskSpec]
    source: str = "<string>"
    description: str | None = None
    version: str | None = None
    inputs: tuple[InputParam, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    output: Any = None
    max_task_runs: int = DEFAULT_MAX_TASK_RUNS
    text: str = ""  # the YAML it was loaded from, kept so it can be stored and re-loaded
    entries: tuple[str, ...] = ()  # tasks no transition points to, in declaration order
    inbound: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task -> distinct sources

    def task(self, name: str) -> TaskSpec:
        return self.tasks[name]

    @cached_property
    def joins(self) -> frozenset[str]:
        """The tasks with a ``join``: the only ones that count arrivals."""
        return frozenset(name for name, task in self.tasks.items() if task.join is not None)


_R = TypeVar("_R", bound="DataclassInstance")


def quick_constructor(cls: type[_R]) -> type[_R]:
    """A class that builds frozen, slotted ``cls`` records at a plain slot assignment's cost.

    A frozen dataclass sets each field through ``object.__setattr__`` (its own ``__setattr__``
    refuses), several times what a plain slot assignment costs: for the task and transition
    records, a seventh of loading a 10,000-task workflow. This twin has the same fields, defaults
    and slots, without the freeze; as its ``__init__`` ends, the instance becomes a ``cls``
    (Python allows the switch between classes of the same slots) and is frozen from then on.
    """
    def become(self: Any) -> None:
        self.__class__ = cls

    specs = [(f.name, f.type, field(default=f.default) if f.default is not MISSING
              else field(default_factory=f.default_factory) if f.default_factory is not MISSING
              else field()) for f in fields(cls)]
    return make_dataclass(f"Quick{cls.__name__}", specs, slots=True, eq=False, repr=False,
                          namespace={"__post_init__": become})


# What the loader builds its records with (one per task, one per transition).
new_task_spec = quick_constructor(TaskSpec)
new_transition = quick_constructor(Transition)
