"""The commands that work on this machine: run, validate, graph, test."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from ..core import graph
from ..core.errors import InputError
from ..core.loader import parse_file, workflow_files
from ..core.spec import WorkflowSpec
from ..errors import UnknownWorkflowError
from ..ports import StateStore
from ..progress import Printer
from ..stacks import Stack
from ..summary import ExecutionSummary
from .common import (
    EXIT_NOT_SUCCEEDED,
    EXIT_OK,
    EXIT_USAGE,
    PROGRESS_READ_EVERY,
    UsageError,
    action_modules,
    client_for,
    print_problems,
    read_input,
    refusals,
    registry_for,
    say,
)
from .remote import view_dot


def _siblings(path: str) -> list[str]:
    folder = os.path.dirname(os.path.abspath(path))
    own = os.path.abspath(path)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.endswith((".yaml", ".yml")) and os.path.join(folder, f) != own)


def _register_siblings(stack: Stack, path: str, quiet: bool, registry: Any) -> None:
    """Register every workflow file beside ``path`` so ``workflow:`` tasks find their children.

    A sibling that does not load is skipped (it may not be a workflow at all);
    without ``quiet`` a note names its first error.
    """
    for sibling in _siblings(path):
        spec, problems = parse_file(sibling)
        if spec is not None:
            refused = refusals(spec, registry)
            if not refused:
                stack.register(spec)
            elif not quiet:
                print(f"note: {os.path.basename(sibling)} is not registered: {refused[0]}", file=sys.stderr)
            continue
        errors = [p for p in problems if p.severity == "error"]
        looks_like_workflow = not any(
            p.task is None and (p.field == "workflow" or (p.field == "tasks" and "missing" in p.message))
            for p in errors)
        if not quiet and errors and looks_like_workflow:
            print(f"note: {os.path.basename(sibling)} is not registered "
                  f"({len(errors)} problem{'s' if len(errors) != 1 else ''}): {errors[0]}", file=sys.stderr)



def _make_stack(backend: str, real_time: bool, registry: Any = None) -> Stack:
    """``local``: the embedded AWS stack (moto + the Lambda handlers); ``memory``: in-process twins."""
    if backend == "memory":
        from ..harness import MemoryStack
        return MemoryStack(registry=registry, real_time=real_time)
    try:
        from ..local.stack import EmbeddedStack
        return EmbeddedStack(registry=registry, real_time=real_time)
    except ModuleNotFoundError as exc:
        raise UsageError(f"the local backend needs {exc.name}: pip install 'relayflow[local]', "
                         "or run with --backend memory") from None


def _spec_of(stack: Stack, name: str) -> WorkflowSpec | None:
    registry = stack.workflows
    try:
        return registry.get(name)
    except UnknownWorkflowError:
        return None


def _run_with_progress(stack: Stack, workflow: str, payload: Any, printer: Printer | None) -> ExecutionSummary:
    """Start ``workflow`` and pump the stack until nothing is left to do, telling ``printer``
    between steps how far each running with_items / parallel run is."""
    eid = stack.start(workflow, payload)
    store = stack.store
    last_read = 0.0
    while stack.step():
        now = time.monotonic()
        if printer is not None and now - last_read >= PROGRESS_READ_EVERY:
            last_read = now
            printer.items(_running_items(store, eid))
    if printer is not None:
        printer.close()
    return stack.describe(eid)


def _running_items(store: StateStore, eid: str) -> list[tuple[str, int, dict[str, int]]]:
    from ..service import items_progress
    out = []
    for run in store.list_runs(eid):
        progress = items_progress(run)
        if progress is not None and not run.final:
            out.append((run.task, run.run, progress))
    return out


def cmd_run(args: argparse.Namespace) -> int:
    spec, problems = parse_file(args.workflow)
    if spec is None:
        print_problems(problems)
        return EXIT_USAGE
    if not args.json:
        print_problems(problems)  # warnings
    payload = read_input(args.input)
    folder = os.path.dirname(os.path.abspath(args.workflow))
    registry = registry_for(args, [folder])
    refused = refusals(spec, registry)
    if refused:
        print_problems(refused)
        return EXIT_USAGE
    if folder not in sys.path:  # python:<module>:<function> actions beside the workflow
        sys.path.insert(0, folder)
    stack = _make_stack(args.backend, args.real_time, registry)
    breached: tuple[type[BaseException], ...] = ()
    if args.backend == "local":  # a call AWS would refuse (moto took it) fails the run loudly
        from ..local.contract import ContractBreached
        breached = (ContractBreached,)
    try:
        _register_siblings(stack, args.workflow, quiet=args.json, registry=registry)
        stack.register(spec)
        printer = None
        if not args.json:
            printer = Printer(None, spec_of=lambda name: _spec_of(stack, name),  # None: sys.stdout when printing
                              virtual=not args.real_time)
            stack.subscribe(printer)
        try:
            result = _run_with_progress(stack, spec.name, payload, printer)
        except InputError as exc:
            print(f"{args.workflow}: the input does not match the inputs workflow {spec.name} declares:",
                  file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            return EXIT_USAGE
        except breached as exc:
            print(f"relayflow: {exc}", file=sys.stderr)
            return EXIT_NOT_SUCCEEDED
    finally:
        stack.close()
    if args.json:
        say(json.dumps(result, default=str))
    else:
        took = printer.elapsed() if printer is not None else None
        say(f"\nworkflow {result['workflow']} {result['status']} (execution {result['execution_id']})"
            + (f" in {took}" if took else ""))
        if result["error"]:
            say(f"error: {json.dumps(result['error'], default=str)}")
        if result["output"] is not None:
            say("output: " + json.dumps(result["output"], indent=2, default=str))
    return EXIT_OK if result["status"] == "succeeded" else EXIT_NOT_SUCCEEDED


def cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    report = []
    files: list[str] = []
    for path in args.files:  # a folder stands for the workflow files in it and its subfolders
        if not os.path.isdir(path):
            files.append(path)
        elif found := workflow_files(path):
            files.extend(found)
        else:
            message = "no workflow files here or in its subfolders (YAML files with 'tasks')"
            if args.json:
                report.append({"file": path, "ok": False, "workflow": None, "problems": [
                    {"line": 0, "task": None, "field": "file", "message": message, "severity": "error",
                     "text": f"{path}: {message}"}]})
            else:
                print(f"{path}: {message}", file=sys.stderr)
            failed = True
    for path in files:
        spec, problems = parse_file(path)
        if spec is not None:
            problems = problems + refusals(spec, registry_for(args, [os.path.dirname(os.path.abspath(path))]))
        if args.json:
            report.append({"file": path, "ok": spec is not None, "workflow": spec.name if spec else None,
                           "problems": [{"line": p.line, "task": p.task, "field": p.field, "message": p.message,
                                         "severity": p.severity, "text": str(p)} for p in problems]})
            failed = failed or spec is None or any(p.severity == "error" for p in problems)
            continue
        print_problems(problems)
        if spec is None or any(p.severity == "error" for p in problems):
            failed = True
        else:
            warnings = len(problems)
            tail = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
            say(f"{path}: ok ({len(spec.tasks)} task{'s' if len(spec.tasks) != 1 else ''}{tail})")
    if args.json:
        say(json.dumps({"files": report}))
    return EXIT_USAGE if failed else EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    if args.execution is not None:
        if args.workflow is not None:
            raise UsageError("graph: give a workflow file or --execution ID, not both")
        view = client_for(args).graph(args.execution)
        if args.json:
            say(json.dumps({**view, "dot": view_dot(view)}, default=str))
            return EXIT_OK
        say(view["mermaid"] if args.format == "mermaid" else view_dot(view), end="")
        return EXIT_OK
    if args.workflow is None:
        raise UsageError("graph: give a workflow file, or --execution ID with --api")
    spec, problems = parse_file(args.workflow)
    if spec is None:
        print_problems(problems)
        return EXIT_USAGE
    if args.json:
        say(json.dumps({"workflow": spec.name, "mermaid": graph.to_mermaid(spec), "dot": graph.to_dot(spec)}))
        return EXIT_OK
    say(graph.to_dot(spec) if args.format == "dot" else graph.to_mermaid(spec), end="")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from .. import testing
    report = testing.run_files(args.files, action_modules(args).modules)
    if args.json:
        say(json.dumps(testing.to_json(report), default=str))
    else:
        say(testing.format_text(report), end="")
    return report.exit_code


