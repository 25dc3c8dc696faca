"""The kinds of unit, registered in one place; ``kind_for`` picks a task's kind.

See :class:`~relayflow.core.units.base.UnitKind` for the protocol and how to add a kind."""
from __future__ import annotations

from ..builtins import builtin
from ..spec import TaskSpec
from .action import ActionUnit
from .ask import AskUnit
from .base import Address, Host, PlainKind, UnitKind, timer_key
from .callback import CallbackUnit
from .child import ChildUnit, child_id
from .local import LocalUnit
from .sleep import SleepUnit

__all__ = ["Address", "Host", "KINDS", "PlainKind", "UnitKind", "child_id", "kind_for", "timer_key"]

KINDS: dict[str, UnitKind] = {kind.name: kind for kind in (
    ActionUnit(), CallbackUnit(), SleepUnit(), AskUnit(), ChildUnit(), LocalUnit(),
)}


def kind_for(spec: TaskSpec) -> UnitKind:
    """The kind of the units of ``spec`` (a task, or one sub-task of a parallel task)."""
    if spec.workflow is not None:
        return KINDS["child"]
    entry = builtin(spec.action)
    if entry is not None and entry.handled_by == "engine":
        return KINDS[entry.unit_kind]  # the loader refuses callback: true on these
    if spec.callback:
        return KINDS["callback"]
    return KINDS["local"] if spec.local else KINDS["action"]
