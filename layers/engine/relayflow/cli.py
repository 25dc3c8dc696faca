"""The ``relayflow`` command: run, validate and draw workflows."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from .core import graph
from .core.errors import InputError, ValidationError
from .core.loader import load_file, parse
from .core.messages import Emit

EXIT_OK, EXIT_NOT_SUCCEEDED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _read_input(raw: str | None) -> Any:
    if raw is None:
        return {}
    text = raw
    if raw.startswith("@"):
        try:
            with open(raw[1:], encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise UsageError(f"--input {raw}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--input: not valid JSON: {exc}") from None


def _siblings(path: str) -> list[str]:
    folder = os.path.dirname(os.path.abspath(path))
    own = os.path.abspath(path)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.endswith((".yaml", ".yml")) and os.path.join(folder, f) != own)


def _register_siblings(stack: Any, path: str, quiet: bool) -> None:
    """Register every workflow file beside ``path`` so ``workflow:`` tasks find their children."""
    for sibling in _siblings(path):
        try:
            with open(sibling, encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            continue
        spec, problems = parse(text, sibling)
        if spec is not None:
            stack.register(spec)
        elif not quiet and "tasks:" in text:
            print(f"note: {os.path.basename(sibling)} is not registered: {problems[0]}", file=sys.stderr)


class _Progress:
    """Prints each task run as it starts and ends."""

    def __init__(self, out: Any):
        self.out = out
        self.t0: float | None = None

    def __call__(self, event: Emit) -> None:
        d = event.detail
        kind = event.type
        if self.t0 is None:
            self.t0 = d.get("at", 0.0)
        prefix = f"{d.get('at', 0.0) - self.t0:>8.1f}s  {d.get('workflow', '')}  "
        if kind == "task.started":
            line = f"{prefix}{'started':<10}{d['task']} (run {d['run']})"
        elif kind == "task.retried":
            err = d.get("error") or {}
            line = (f"{prefix}{'retrying':<10}{d['task']} (run {d['run']}) attempt {d['attempt']} failed: "
                    f"{err.get('message', '')}; next attempt in {d['delay']:g} s")
        elif kind.startswith("task."):
            status = kind.split(".", 1)[1]
            err = d.get("error")
            tail = f": {err.get('message')}" if err else ""
            attempts = d.get("attempts")
            extra = f", {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
            line = f"{prefix}{status:<10}{d['task']} (run {d['run']}{extra}){tail}"
        elif kind in ("workflow.paused", "workflow.resumed"):
            line = f"{prefix}{kind.split('.')[1]}"
        else:
            return
        print(line, file=self.out, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    try:
        spec = load_file(args.workflow)
    except ValidationError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return EXIT_USAGE
    payload = _read_input(args.input)
    from .harness import MemoryStack
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.workflow)))
    stack = MemoryStack(real_time=args.real_time)
    _register_siblings(stack, args.workflow, quiet=args.json)
    stack.register(spec)
    if not args.json:
        stack.subscribe(_Progress(sys.stdout))
    try:
        result = stack.run(spec.name, payload)
    except InputError as exc:
        for problem in exc.problems:
            print(f"{args.workflow}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(f"\nworkflow {result['workflow']} {result['status']} (execution {result['execution_id']})")
        if result["error"]:
            print(f"error: {json.dumps(result['error'], default=str)}")
        if result["output"] is not None:
            print("output: " + json.dumps(result["output"], indent=2, default=str))
    return EXIT_OK if result["status"] == "succeeded" else EXIT_NOT_SUCCEEDED


def cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            print(f"{path}:0: file: cannot read: {exc.strerror}", file=sys.stderr)
            failed = True
            continue
        spec, problems = parse(text, path)
        for p in problems:
            print(p, file=sys.stderr if p.severity == "error" else sys.stdout)
        if spec is None:
            failed = True
        else:
            print(f"{path}: ok ({len(spec.tasks)} tasks)")
    return EXIT_USAGE if failed else EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    try:
        spec = load_file(args.workflow)
    except ValidationError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return EXIT_USAGE
    print(graph.to_dot(spec) if args.format == "dot" else graph.to_mermaid(spec), end="")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relayflow", description="Run, validate and draw relayflow workflows.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workflow on this machine")
    run.add_argument("workflow", help="the workflow file")
    run.add_argument("--input", help="the input as JSON, or @file.json")
    run.add_argument("--json", action="store_true", help="print only the result, as one JSON object")
    run.add_argument("--real-time", action="store_true", help="really wait for sleeps, retries and timeouts")
    run.add_argument("--backend", choices=["memory"], default="memory",
                     help="where state lives: memory (in-process)")
    run.set_defaults(func=cmd_run)
    val = sub.add_parser("validate", help="check workflow files and report every problem")
    val.add_argument("files", nargs="+")
    val.set_defaults(func=cmd_validate)
    gr = sub.add_parser("graph", help="draw a workflow's task graph")
    gr.add_argument("workflow")
    gr.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    gr.set_defaults(func=cmd_graph)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"relayflow: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
