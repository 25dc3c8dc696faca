"""What ``relayflow run`` prints while a workflow runs: a line per task run as it starts and
ends, and how far each ``with_items`` / ``parallel`` run is.

On a terminal the items' progress is one bar redrawn in place (cleared before any
other line is printed); otherwise it is a plain line each time a run's counts
change and at most every few seconds, so a log file stays readable.

Each line starts with the seconds since the run started. On the virtual clock
(``run`` without ``--real-time``) the events' own times stand still while steps
run and jump over every wait, so they would read 0.0 until the first skipped
wait: there a stamp is the real seconds elapsed plus the time skipped so far,
marked ``*`` once something was skipped, and the first line says so.
"""
from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

from .core.messages import Emit

BAR_EVERY = 0.2  # seconds between redraws of the bar on a terminal
LINE_EVERY = 5.0  # seconds between plain progress lines


def items_text(progress: dict[str, int]) -> str:
    done = progress["succeeded"] + progress["failed"]
    return (f"{done}/{progress['total']} items done: {progress['succeeded']} succeeded, "
            f"{progress['failed']} failed, {progress['running']} running")


def bar(progress: dict[str, int], width: int) -> str:
    total = max(progress["total"], 1)
    ok = progress["succeeded"] * width // total
    bad = progress["failed"] * width // total
    return "#" * ok + "x" * bad + "." * max(0, width - ok - bad)


class Printer:
    """Prints lifecycle events as lines, and items' progress as a bar (terminal) or lines."""

    def __init__(self, out: Any = None, tty: bool | None = None, spec_of: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, virtual: bool = False):
        self._out = out
        self.tty = tty
        self.spec_of = spec_of or (lambda name: None)
        self.clock = clock
        self.virtual = virtual  # events stamped by a virtual clock: add the real time elapsed
        self.t0: float | None = None
        self.real_t0: float | None = None
        self.skipped = 0.0  # virtual seconds skipped so far (the events' clock moved)
        self._bar_shown = False
        self._last_draw = float("-inf")
        self._last: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._last_line = 0.0
        self._workflow_of: dict[str, str] = {}  # execution id -> workflow name, from the events seen

    @property
    def out(self) -> Any:
        return self._out if self._out is not None else sys.stdout  # whatever sys.stdout is when printing

    def _is_tty(self) -> bool:
        if self.tty is not None:
            return self.tty
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def say(self, line: str) -> None:
        self._clear_bar()
        print(line, file=self.out, flush=True)

    def _clear_bar(self) -> None:
        if self._bar_shown:
            print("\r\033[K", end="", file=self.out, flush=True)
            self._bar_shown = False

    def _multi(self, workflow: str, task: str) -> bool:
        spec = self.spec_of(workflow)
        t = spec.tasks.get(task) if spec is not None else None
        return bool(t is not None and (t.with_items is not None or t.type == "parallel"))

    # -- lifecycle events (from the bus) ------------------------------------------------
    def __call__(self, event: Emit) -> None:
        d = event.detail
        kind = event.type
        if self.t0 is None:
            self.t0 = d.get("at", 0.0)
            self.real_t0 = self.clock()
            if self.virtual:
                self.say("times: seconds since the start on the virtual clock (real time, plus the waits, retry "
                         "delays and timeouts it skipped; '*' marks times past a skipped wait)")
        if d.get("execution_id") and d.get("workflow"):
            self._workflow_of[d["execution_id"]] = d["workflow"]
        prefix = f"{self.stamp(d.get('at', 0.0))}  {d.get('workflow', '')}  "
        if kind == "task.started":
            line = f"{prefix}{'started':<10}{d['task']} (run {d['run']})"
        elif kind == "task.retried":
            err = d.get("error") or {}
            item = f" item {d['unit']}" if self._multi(d.get("workflow", ""), d["task"]) else ""
            line = (f"{prefix}{'retrying':<10}{d['task']} (run {d['run']}{item}) attempt {d['attempt']} failed: "
                    f"{err.get('message', '')}; next attempt in {d['delay']:g} s")
        elif kind.startswith("task."):
            status = kind.split(".", 1)[1]
            err = d.get("error")
            tail = f": {err.get('message')}" if err else ""
            attempts = d.get("attempts")
            extra = f", {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
            line = f"{prefix}{status:<10}{d['task']} (run {d['run']}{extra}){tail}"
        elif kind == "workflow.started" and d.get("parent"):
            p = d["parent"]
            item = f" item {p['unit']}" if self._multi(self._workflow_of.get(p["execution_id"], ""), p["task"]) else ""
            line = (f"{prefix}{'child':<10}execution {d['execution_id']} for {p['task']} "
                    f"(run {p['run']}{item}, attempt {p['attempt']})")
        elif kind in ("workflow.paused", "workflow.resumed", "workflow.cancelled"):
            reason = f": {d['reason']}" if d.get("reason") else ""
            line = f"{prefix}{kind.split('.')[1]}{reason}"
        else:
            return
        self.say(line)

    def stamp(self, at: float) -> str:
        """The line's time: the event's own on a real clock; on a virtual one, real time plus skips."""
        assert self.t0 is not None and self.real_t0 is not None
        if not self.virtual:
            return f"{at - self.t0:>8.2f}s "
        self.skipped = max(self.skipped, at - self.t0)
        return f"{self.clock() - self.real_t0 + self.skipped:>8.2f}s{'*' if self.skipped > 0 else ' '}"

    def elapsed(self) -> str | None:
        """How long the run took, for the closing line: real seconds, and virtual ones when they differ."""
        if self.real_t0 is None:
            return None
        real = self.clock() - self.real_t0
        if self.virtual and self.skipped > 0:
            return f"{real:.2f} s real, {real + self.skipped:.2f} s on the virtual clock"
        return f"{real:.2f} s"

    # -- items' progress (read from the store between pump steps) ------------------------
    def items(self, runs: list[tuple[str, int, dict[str, int]]], force: bool = False) -> None:
        """``runs``: (task, run, progress) of each with_items / parallel run not yet final."""
        now = self.clock()
        if self._is_tty():
            if not runs:
                self._clear_bar()
                return
            if not force and now - self._last_draw < BAR_EVERY:
                return
            self._last_draw = now
            width = shutil.get_terminal_size((80, 20)).columns
            task, run, p = runs[-1]
            label = f"  {task} (run {run}) "
            counts = f" {p['succeeded'] + p['failed']}/{p['total']} ({p['failed']} failed, {p['running']} running)"
            room = max(10, min(40, width - len(label) - len(counts) - 4))
            text = f"{label}[{bar(p, room)}]{counts}"
            if len(runs) > 1:
                text += f" +{len(runs) - 1} more"
            print("\r\033[K" + text[:width - 1], end="", file=self.out, flush=True)
            self._bar_shown = True
            return
        for task, run, p in runs:
            key, tally = (task, run), (p["succeeded"], p["failed"], p["running"])
            if self._last.get(key) == tally:
                continue
            if not force and now - self._last_line < LINE_EVERY and key in self._last:
                continue
            self._last[key] = tally
            self._last_line = now
            print(f"{'':>10}  {task} (run {run}) {items_text(p)}", file=self.out, flush=True)

    def close(self) -> None:
        self._clear_bar()
