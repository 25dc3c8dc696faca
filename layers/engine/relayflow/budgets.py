"""Time and memory limits derived from the function's own (Lambda's timeout and memory size).

Lambda kills a handler at its timeout or memory limit, and the batch comes back whole.
So a handler starts a step (or an attempt) only while the time it may take, plus a
margin for the AWS calls around it, remains; and the limits of what it runs (template
time and output size, an action's time) are cut to fit the function, not fixed numbers
that fit one function size and overrun another.
"""
from __future__ import annotations

from dataclasses import dataclass

from .core import templates

MARGIN_MS = 3_000.0  # a step's commit and sends, or an attempt's outcome send, with room to spare
TEMPLATE_SHARE = 1 / 3  # one render may take this share of the function's time (at most 10 s)
ACTION_SHARE = 0.5  # one attempt may take this share of the worker's time
OUTPUT_SHARE = 8  # one render's output may take 1/8 of the function's memory


@dataclass(frozen=True)
class Budgets:
    template_seconds: float  # one render's time limit
    output_bytes: int  # one render's output limit
    step_reserve_ms: float  # advance: start a step only while this much time remains (one render at its limit)
    action_seconds: float  # worker: the longest one attempt's action may take (core.http's timeout cap)
    attempt_reserve_ms: float  # worker: start an attempt only while this much time remains

    def limits(self) -> templates.Limits:
        return templates.Limits(max_output_bytes=self.output_bytes, max_seconds=self.template_seconds)


def derive(timeout_ms: float, memory_mb: int) -> Budgets:
    """The budgets of a function with this timeout and memory (Lambda's context tells both)."""
    template_seconds = max(0.5, min(10.0, timeout_ms / 1000 * TEMPLATE_SHARE))
    action_seconds = max(1.0, timeout_ms / 1000 * ACTION_SHARE - MARGIN_MS / 1000)
    return Budgets(
        template_seconds=template_seconds,
        output_bytes=max(1 << 20, memory_mb * (1 << 20) // OUTPUT_SHARE),
        # never more than half the function's time: a reserve larger than the time a function
        # has would hand every message back, forever
        step_reserve_ms=min(template_seconds * 1000 + MARGIN_MS, timeout_ms / 2),
        action_seconds=action_seconds,
        attempt_reserve_ms=min(action_seconds * 1000 + MARGIN_MS, timeout_ms / 2),
    )
