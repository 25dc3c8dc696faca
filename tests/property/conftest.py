"""Reports the fresh seed of the property run, so a failure found on it can be replayed."""
from __future__ import annotations

from typing import Any


def _seed_line() -> str:
    from .test_delivery import FRESH_SEED
    return f"relayflow property seed: {FRESH_SEED} (replay: RELAYFLOW_PROPERTY_SEED={FRESH_SEED})"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(_seed_line())
