"""Retry delay arithmetic (LANGUAGE.md §6)."""
from __future__ import annotations

import random

from .spec import RetrySpec


def delay_before(retry: RetrySpec, n: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry ``n`` (1-based): constant d, linear d·n,
    exponential d·2^(n-1); capped by ``max_delay``; with jitter, uniform in [0, delay]."""
    if n < 1:
        raise ValueError("retries are numbered from 1")
    d = float(retry.delay)
    if retry.backoff == "linear":
        delay = d * n
    elif retry.backoff == "exponential":
        # Cap the exponent so a large retry count cannot overflow a float.
        delay = d * 2.0 ** min(n - 1, 1000) if d else 0.0
    else:
        delay = d
    if retry.max_delay is not None:
        delay = min(delay, float(retry.max_delay))
    if retry.jitter and delay > 0:
        delay = (rng or random).uniform(0.0, delay)
    return delay
