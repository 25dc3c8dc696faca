"""The report of a run, as text and as JSON."""
from __future__ import annotations

import json
import os
from typing import Any

from ..summary import ExecutionSummary
from .diffs import Mismatch
from .model import MISSING
from .run import CaseResult, Report


def _show(value: Any) -> str:
    if value is MISSING:
        return "(missing)"
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        return repr(value)


def _mismatch_lines(m: Mismatch) -> list[str]:
    expected, got = _show(m.expected), _show(m.got)
    if m.note == "not expected":
        return [f"{m.field}: not expected, got {got}"]
    tail = f" ({m.note})" if m.note and m.note != "runs" else ""
    if len(expected) + len(got) <= 60:
        return [f"{m.field}: expected {expected}, got {got}{tail}"]
    return [f"{m.field}:{tail}", f"  expected: {expected}", f"  got:      {got}"]


def _runs_line(execution: ExecutionSummary) -> str:
    parts = []
    for t in execution["tasks"]:
        part = f"{t['name']}#{t['run']} {t['status']}"
        if t["attempts"] and t["attempts"] > 1:
            part += f" ({t['attempts']} attempts)"
        parts.append(part)
    return ", ".join(parts) or "(no task ran)"


def _display(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def format_text(report: Report) -> str:
    lines: list[str] = []
    for problem in report.bad_files:
        lines.append(problem)
    for warning in report.warnings:
        lines.append(warning)
    by_file: dict[str, list[CaseResult]] = {}
    for r in report.results:
        by_file.setdefault(r.file, []).append(r)
    for path, name, wf_path in report.files:
        lines.append(f"{path}: workflow {name} ({_display(wf_path)})")
        for r in by_file.get(path, []):
            if r.passed:
                lines.append(f"  PASS  {r.name}")
                continue
            lines.append(f"  FAIL  {r.name}  ({r.file}:{r.line})")
            if r.error:
                lines.append(f"          {r.error}")
            for m in r.mismatches:
                lines.extend(f"          {row}" for row in _mismatch_lines(m))
            if r.execution is not None:
                lines.append(f"          ran: {_runs_line(r.execution)}")
                if r.execution.get("error"):
                    lines.append(f"          workflow error: {_show(r.execution['error'])}")
    for cov in report.coverage.values():
        tasks_ran = len(cov.tasks) - len(cov.never_ran)
        fired = len(cov.entries) - len(cov.never_fired)
        lines.append(f"coverage of {cov.workflow} ({_display(cov.file)}, {cov.cases} "
                     f"case{'s' if cov.cases != 1 else ''}): {tasks_ran}/{len(cov.tasks)} tasks ran, "
                     f"{fired}/{len(cov.entries)} transitions fired")
        if cov.never_ran:
            lines.append(f"  never ran: {', '.join(cov.never_ran)}")
        if cov.never_fired:
            lines.append("  never fired:")
            for task, entry, targets, line in cov.never_fired:
                lines.append(f"    {task} -> {', '.join(targets)}  ({entry}, line {line})")
    passed = len(report.results) - len(report.failed)
    summary = f"{len(report.results)} case{'s' if len(report.results) != 1 else ''}: {passed} passed, " \
              f"{len(report.failed)} failed"
    if report.bad_files:
        summary += f"; test files with problems: {len({p.split(':', 1)[0] for p in report.bad_files})}"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> dict[str, Any]:
    return {
        "passed": report.exit_code == 0,
        "summary": {"cases": len(report.results), "passed": len(report.results) - len(report.failed),
                    "failed": len(report.failed), "bad_files": len(report.bad_files)},
        "problems": report.bad_files,
        "warnings": report.warnings,
        "files": [{"file": path, "workflow": name, "workflow_file": wf_path,
                   "cases": [{"name": r.name, "line": r.line, "passed": r.passed, "error": r.error,
                              "mismatches": [m.to_dict() for m in r.mismatches], "execution": r.execution}
                             for r in report.results if r.file == path]}
                  for path, name, wf_path in report.files],
        "coverage": [cov.to_dict() for cov in report.coverage.values()],
    }


