"""Running test files: finding them, running each case, gathering the report."""
from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

from ..actions.allowlist import ActionModules
from ..core.errors import InputError
from ..core.loader import parse_file, read_file
from ..harness import MemoryStack
from ..summary import ExecutionSummary
from .coverage import Coverage, recording, transition_entries
from .diffs import Mismatch, check, head_of
from .mocked import MockedStack
from .model import MAX_DELIVERIES, STATUSES, Case, MockRefused, TestFile, TestFileError
from .reader import load_test_file, sibling_files


@dataclass
class CaseResult:
    file: str
    name: str
    line: int
    mismatches: list[Mismatch] = field(default_factory=list)
    error: str | None = None  # the case could not run to the end
    execution: ExecutionSummary | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches





def register_all(stack: MemoryStack, tf: TestFile) -> None:
    for path in sibling_files(tf.workflow_path):
        spec, _ = parse_file(path)
        if spec is not None:
            stack.register(spec)
    for spec in tf.extra:
        stack.register(spec)
    stack.register(tf.spec)


def run_case(tf: TestFile, case: Case, sink: list[tuple[str, str, str]],
             action_modules: tuple[str, ...] = ()) -> CaseResult:
    """Run one case; ``python:`` actions come from the workflow's folder and ``action_modules``."""
    out = CaseResult(tf.path, case.name, case.line)
    mocks = {tf.spec.name: case.mocks, **case.child_mocks} if case.mocks or case.child_mocks else {}
    folder = os.path.dirname(os.path.abspath(tf.workflow_path))
    stack = MockedStack({k: v for k, v in mocks.items() if v}, ActionModules(action_modules, [folder]))
    register_all(stack, tf)
    if folder not in sys.path:  # python:<module>:<function> actions beside the workflow
        sys.path.insert(0, folder)
    with recording(sink):
        try:
            eid = stack.start(tf.spec.name, case.input)
        except InputError as exc:
            out.error = "the input does not match the workflow's inputs: " + "; ".join(exc.problems)
            return out
        try:
            stack.pump(max_deliveries=MAX_DELIVERIES)
        except RuntimeError as exc:
            out.error = f"the workflow did not finish: {exc}"
        except MockRefused as exc:
            out.error = str(exc)
            return out
    execution = stack.describe(eid)
    out.execution = execution
    if out.error is None and execution["status"] not in STATUSES:
        waiting = [f"{t['name']}#{t['run']}" for t in execution["tasks"] if t["status"] not in
                   STATUSES + ("skipped",)]
        out.error = (f"the workflow did not finish: it is still {execution['status']}"
                     + (f", waiting on {', '.join(waiting)} (nothing will answer it here: mock it, "
                        f"or give it a timeout)" if waiting else ""))
        return out
    head = head_of(stack, eid)
    elapsed = (head.finished_at if head.finished_at is not None else stack.clock.now()) - head.created_at
    out.mismatches = check(case.expect, execution, stack, eid, elapsed)
    return out




# -- running files and reporting ---------------------------------------------------------------------------



@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    bad_files: list[str] = field(default_factory=list)  # problems, FILE:LINE: message
    coverage: dict[str, Coverage] = field(default_factory=dict)
    files: list[tuple[str, str, str]] = field(default_factory=list)  # (test file, workflow name, workflow file)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def exit_code(self) -> int:
        return 2 if self.bad_files else 1 if self.failed else 0


# A folder given to ``relayflow test`` stands for the files in it and its subfolders named so.
TEST_FILE_PATTERNS = ("*_test.yaml", "*_test.yml", "test_*.yaml", "test_*.yml")
_SKIPPED_FOLDERS = {"node_modules", "__pycache__", "venv", "site-packages"}


def is_test_file_name(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in TEST_FILE_PATTERNS)


def _yaml_keys(path: str) -> set[str] | None:
    """The top-level keys of a YAML mapping file; None when it is not one (or not readable)."""
    text, _ = read_file(path)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return {k for k in data if isinstance(k, str)} if isinstance(data, dict) else None


def _is_workflow_file(path: str) -> bool:
    keys = _yaml_keys(path)
    return keys is not None and "tasks" in keys and "cases" not in keys


def _walk_test_files(folder: str) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_FOLDERS)
        for name in sorted(files):
            if is_test_file_name(name):
                yield os.path.normpath(os.path.join(root, name))


def _tests_of(workflow_path: str) -> list[str]:
    """Test files under the workflow's folder whose ``workflow`` is that file."""
    target = os.path.abspath(workflow_path)
    found = []
    for path in _walk_test_files(os.path.dirname(workflow_path) or "."):
        text, _ = read_file(path)
        try:
            data = yaml.safe_load(text) if text is not None else None
        except yaml.YAMLError:
            continue
        wf = data.get("workflow") if isinstance(data, dict) else None
        if isinstance(wf, str) and os.path.abspath(os.path.join(os.path.dirname(path), wf)) == target:
            found.append(path)
    return found


def expand(paths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The test files ``paths`` stand for, with problems and notes.

    A file is taken as given, unless it is a workflow: then the test files naming it (in its
    folder and below) run. A folder stands for the files in it and its subfolders named like
    TEST_FILE_PATTERNS; one so named that holds a workflow is left out, with a note."""
    out: list[str] = []
    problems: list[str] = []
    notes: list[str] = []
    patterns = " or ".join(TEST_FILE_PATTERNS[::2])
    for path in paths:
        if os.path.isdir(path):
            found = []
            for candidate in _walk_test_files(path):
                if _is_workflow_file(candidate):
                    notes.append(f"{candidate}: skipped: named like a test file, but it is a workflow "
                                 f"(it has 'tasks', not 'cases')")
                else:
                    found.append(candidate)
            if not found:
                problems.append(f"{path}: no test files here or in its subfolders (test files are named "
                                f"{patterns})")
            out.extend(found)
        elif os.path.isfile(path) and _is_workflow_file(path):
            tests = _tests_of(path)
            if not tests:
                problems.append(f"{path}:1: this is a workflow, not a test file, and no test file under "
                                f"{os.path.dirname(path) or '.'} names it; write one (named {patterns}) with "
                                f"'workflow: <path to this file>' and 'cases'")
            out.extend(tests)
        else:
            out.append(path)
    return list(dict.fromkeys(out)), problems, notes


def run_files(paths: list[str], action_modules: tuple[str, ...] = ()) -> Report:
    report = Report()
    files, report.bad_files, report.warnings = expand(paths)
    for path in files:
        try:
            tf = load_test_file(path)
        except TestFileError as exc:
            report.bad_files.extend(exc.problems)
            continue
        report.warnings.extend(tf.warnings)
        report.files.append((path, tf.spec.name, tf.workflow_path))
        cov = report.coverage.get(os.path.abspath(tf.workflow_path))
        if cov is None:
            cov = report.coverage[os.path.abspath(tf.workflow_path)] = Coverage(
                tf.spec.name, tf.workflow_path, list(tf.spec.tasks), entries=transition_entries(tf.spec))
        for case in tf.cases:
            sink: list[tuple[str, str, str]] = []
            result = run_case(tf, case, sink, action_modules)
            report.results.append(result)
            cov.cases += 1
            for workflow, task, entry in sink:
                if workflow == tf.spec.name:
                    cov.fired.add((task, entry))
            for run in result.execution["tasks"] if result.execution is not None else []:
                if run["status"] not in ("skipped", "cancelled") or run["attempts"]:
                    cov.ran.add(run["name"])
    return report


