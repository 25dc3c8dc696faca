"""The conductor: one event in, record changes and commands out.

It is pure: it reads and changes records only through a :class:`Session` and
returns commands (dispatch an attempt, start a timer, start a child, emit a
lifecycle event) for the caller to carry out after the changes are committed.
Every handler checks the records first, so a duplicated, late or reordered
event changes nothing.

Vocabulary: a *run* is one execution of a task; a run has *units* (one for a
plain task, one per item for ``with_items``, one per sub-task for
``parallel``); a unit has *attempts* (retries).
"""
from __future__ import annotations

from ..builtins import ASK, SLEEP
from ..units import child_id, timer_key
from .base import HISTORY_FIELDS, parse_token
from .conductor import Conductor

SLEEP_ACTION = SLEEP  # the names callers outside the core import
ASK_ACTION = ASK
__all__ = ["ASK_ACTION", "HISTORY_FIELDS", "SLEEP_ACTION", "Conductor", "child_id", "parse_token", "timer_key"]
