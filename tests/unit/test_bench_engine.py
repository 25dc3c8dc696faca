"""bench/engine.py's verdicts: a goal is printed as met only when the figure meets it."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import engine as bench_engine  # noqa: E402


def test_the_engine_bench_calls_the_load_goal_met_only_within_it() -> None:
    def verdict(load_cpu_s: float) -> str:
        (line,) = bench_engine.goals([{"shape": "seq", "n": 10000, "load_cpu_s": load_cpu_s, "load_s": 1.0}])
        return line.rsplit(": ", 1)[1]

    assert verdict(bench_engine.LOAD_GOAL_S) == "met"
    assert verdict(bench_engine.LOAD_GOAL_S + 0.01) == "NOT met"
    assert verdict(0.99) == "NOT met"  # just under a second is not well under it
