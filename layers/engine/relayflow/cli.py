"""The ``relayflow`` command: run, validate, draw and test workflows; serve the API and drive it."""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from typing import Any, Sequence

from .client import ApiError
from .core import graph
from .core.errors import InputError, Problem
from .core.loader import parse_file
from .core.messages import Emit

EXIT_OK, EXIT_NOT_SUCCEEDED, EXIT_USAGE = 0, 1, 2

# The keys of `run --json` (DESIGN.md §4): exactly these, in this order.
RESULT_KEYS = ("execution_id", "workflow", "status", "output", "error", "tasks")
TASK_RUN_KEYS = ("name", "run", "status", "attempts", "result", "error")


class UsageError(Exception):
    pass


def _silence_stdout() -> None:
    """Send the rest of stdout to /dev/null: the reader went away (``relayflow run ... | head -1``)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit


def say(*parts: Any, file: Any = None, **kwargs: Any) -> None:
    """``print`` that survives a closed pipe: once stdout's reader is gone, output is dropped."""
    try:
        print(*parts, file=file if file is not None else sys.stdout, **kwargs)
    except BrokenPipeError:
        if file is not None and file is not sys.stdout:
            raise
        _silence_stdout()


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        print(p, file=sys.stderr)


def _read_input(raw: str | None) -> Any:
    if raw is None:
        return {}
    text, where = raw, "--input"
    if raw.startswith("@"):
        where = f"--input {raw}"
        try:
            with open(raw[1:], encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise UsageError(f"{where}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{where}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: not valid JSON: {exc}") from None


def _action_modules(args: argparse.Namespace, folders: Sequence[str] = ()) -> Any:
    """The declared action modules: ``--action-module`` (repeatable), $RELAYFLOW_ACTION_MODULES,
    and the modules in ``folders`` (the workflow's own folder for run, validate and test)."""
    from .actions.allowlist import ActionModules
    names = list(getattr(args, "action_module", None) or [])
    names += [n for n in os.environ.get("RELAYFLOW_ACTION_MODULES", "").replace(",", " ").split() if n]
    try:
        return ActionModules(names, folders)
    except ValueError as exc:
        raise UsageError(f"--action-module: {exc}") from None


def _registry(args: argparse.Namespace, folders: Sequence[str] = ()) -> Any:
    from .actions.builtin import default_registry
    return default_registry(_action_modules(args, folders))


def _refusals(spec: Any, registry: Any) -> list[Problem]:
    from . import admission
    return admission.problems(spec, registry)


def _add_action_module(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--action-module", action="append", metavar="MODULE",
                        help="a Python module (or package) python: actions may name; repeatable "
                             "(modules beside the workflow count too, for run, validate and test)")


def _siblings(path: str) -> list[str]:
    folder = os.path.dirname(os.path.abspath(path))
    own = os.path.abspath(path)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.endswith((".yaml", ".yml")) and os.path.join(folder, f) != own)


def _register_siblings(stack: Any, path: str, quiet: bool, registry: Any) -> None:
    """Register every workflow file beside ``path`` so ``workflow:`` tasks find their children.

    A sibling that does not load is skipped (it may not be a workflow at all);
    without ``quiet`` a note names its first error.
    """
    for sibling in _siblings(path):
        spec, problems = parse_file(sibling)
        if spec is not None:
            refused = _refusals(spec, registry)
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
        say(line, file=self.out, flush=True)


def contract_result(result: dict[str, Any]) -> dict[str, Any]:
    """The execution as DESIGN.md §4 prints it: exactly RESULT_KEYS, each task run exactly TASK_RUN_KEYS."""
    out = {key: result.get(key) for key in RESULT_KEYS}
    out["tasks"] = [{key: run.get(key) for key in TASK_RUN_KEYS} for run in result.get("tasks") or []]
    return out


def _make_stack(backend: str, real_time: bool, registry: Any = None) -> Any:
    """``local``: the embedded AWS stack (moto + the Lambda handlers); ``memory``: in-process twins."""
    if backend == "memory":
        from .harness import MemoryStack
        return MemoryStack(registry=registry, real_time=real_time)
    try:
        from .local.stack import LocalStack
        return LocalStack(registry=registry, real_time=real_time)
    except ModuleNotFoundError as exc:
        raise UsageError(f"the local backend needs {exc.name}: pip install 'relayflow[local]', "
                         "or run with --backend memory") from None


def cmd_run(args: argparse.Namespace) -> int:
    spec, problems = parse_file(args.workflow)
    if spec is None:
        _print_problems(problems)
        return EXIT_USAGE
    if not args.json:
        _print_problems(problems)  # warnings
    payload = _read_input(args.input)
    folder = os.path.dirname(os.path.abspath(args.workflow))
    registry = _registry(args, [folder])
    refused = _refusals(spec, registry)
    if refused:
        _print_problems(refused)
        return EXIT_USAGE
    if folder not in sys.path:  # python:<module>:<function> actions beside the workflow
        sys.path.insert(0, folder)
    stack = _make_stack(args.backend, args.real_time, registry)
    try:
        _register_siblings(stack, args.workflow, quiet=args.json, registry=registry)
        stack.register(spec)
        if not args.json:
            stack.subscribe(_Progress(None))  # None: whatever sys.stdout is when printing
        try:
            result = contract_result(stack.run(spec.name, payload))
        except InputError as exc:
            print(f"{args.workflow}: the input does not match the inputs workflow {spec.name} declares:",
                  file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            return EXIT_USAGE
    finally:
        close = getattr(stack, "close", None)
        if close is not None:
            close()
    if args.json:
        say(json.dumps(result, default=str))
    else:
        say(f"\nworkflow {result['workflow']} {result['status']} (execution {result['execution_id']})")
        if result["error"]:
            say(f"error: {json.dumps(result['error'], default=str)}")
        if result["output"] is not None:
            say("output: " + json.dumps(result["output"], indent=2, default=str))
    return EXIT_OK if result["status"] == "succeeded" else EXIT_NOT_SUCCEEDED


def cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        spec, problems = parse_file(path)
        if spec is not None:
            problems = problems + _refusals(spec, _registry(args, [os.path.dirname(os.path.abspath(path))]))
        _print_problems(problems)
        if spec is None or any(p.severity == "error" for p in problems):
            failed = True
        else:
            warnings = len(problems)
            tail = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
            say(f"{path}: ok ({len(spec.tasks)} task{'s' if len(spec.tasks) != 1 else ''}{tail})")
    return EXIT_USAGE if failed else EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    if args.execution is not None:
        if args.workflow is not None:
            raise UsageError("graph: give a workflow file or --execution ID, not both")
        if args.format != "mermaid":
            raise UsageError("graph --execution draws Mermaid only")
        say(_client(args).graph(args.execution)["mermaid"], end="")
        return EXIT_OK
    if args.workflow is None:
        raise UsageError("graph: give a workflow file, or --execution ID with --api")
    spec, problems = parse_file(args.workflow)
    if spec is None:
        _print_problems(problems)
        return EXIT_USAGE
    say(graph.to_dot(spec) if args.format == "dot" else graph.to_mermaid(spec), end="")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from . import testing
    report = testing.run_files(args.files, _action_modules(args).modules)
    if args.json:
        say(json.dumps(testing.to_json(report), default=str))
    else:
        say(testing.format_text(report), end="")
    return report.exit_code


# -- the API: serve it, and drive it ------------------------------------------------
def _client(args: argparse.Namespace) -> Any:
    from .client import Client
    return Client(args.api, region=args.region)


def _workflow_files(paths: list[str]) -> list[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith((".yaml", ".yml")))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return files


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import ApiServer, make_stack
    files = _workflow_files(args.workflows)
    specs = []
    folders: list[str] = []
    for path in files:
        spec, problems = parse_file(path)
        if spec is None:
            errors = [p for p in problems if p.severity == "error"]
            print(f"note: {path} is not registered ({len(errors)} problem{'s' if len(errors) != 1 else ''})"
                  + (f": {errors[0]}" if errors else ""), file=sys.stderr)
            continue
        specs.append((path, spec))
        folder = os.path.dirname(os.path.abspath(path))
        folders.append(folder)
        if folder not in sys.path:  # python:<module>:<function> actions beside the workflows
            sys.path.insert(0, folder)
    registry = _registry(args, folders)
    if args.token and len(os.environ.get("RELAYFLOW_TOKEN", "")) < 16:
        raise UsageError("--token: set RELAYFLOW_TOKEN to a secret of at least 16 characters "
                         "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe())')")
    try:
        stack = make_stack(args.backend, registry=registry)
    except ModuleNotFoundError as exc:
        raise UsageError(f"the local backend needs {exc.name}: pip install 'relayflow[local]', "
                         "or serve with --backend memory") from None
    try:
        for path, spec in specs:
            refused = _refusals(spec, registry)
            if refused:
                print(f"note: {path} is not registered: {refused[0]}", file=sys.stderr)
                continue
            stack.register(spec)
            print(f"registered {spec.name} ({len(spec.tasks)} task{'s' if len(spec.tasks) != 1 else ''}) "
                  f"from {path}", file=sys.stderr)
        try:
            server = ApiServer(stack, port=args.port, host=args.host, log=None if args.quiet else sys.stderr,
                               token=os.environ.get("RELAYFLOW_TOKEN") if args.token else None)
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        say(f"relayflow API on {server.url} (backend {args.backend}, real time)\n"
            f"  OpenAPI document: {server.url}/openapi.json\n"
            f"  graph page:       {server.url}/ui/executions/<execution id>\n"
            "Ctrl-C stops it.", flush=True)
        server.serve_forever()
    finally:
        close = getattr(stack, "close", None)
        if close is not None:
            close()
    return EXIT_OK


def cmd_start(args: argparse.Namespace) -> int:
    client = _client(args)
    out = client.start(args.workflow, _read_input(args.input) if args.input is not None else None,
                       idempotency_key=args.idempotency_key, version=args.version)
    if args.json:
        say(json.dumps(out))
    else:
        say(out["execution_id"])
        if client.sign is False:
            print(f"graph page: {client.base}/ui/executions/{out['execution_id']}", file=sys.stderr)
    return EXIT_OK


def _print_execution(result: dict[str, Any]) -> None:
    say(f"workflow {result['workflow']} {result['status']} (execution {result['execution_id']})")
    for run in result["tasks"]:
        attempts = run["attempts"]
        tail = f": {run['error'].get('message')}" if isinstance(run.get("error"), dict) else ""
        say(f"  {run['name']} (run {run['run']}) {run['status']}, "
            f"{attempts} attempt{'s' if attempts != 1 else ''}{tail}")
    if result["error"]:
        say(f"error: {json.dumps(result['error'], default=str)}")
    if result["output"] is not None:
        say("output: " + json.dumps(result["output"], indent=2, default=str))


def cmd_status(args: argparse.Namespace) -> int:
    result = contract_result(_client(args).describe(args.execution))
    if args.json:
        say(json.dumps(result, default=str))
    else:
        _print_execution(result)
    return EXIT_OK


FINAL_STATUSES = ("succeeded", "failed", "timed_out", "cancelled")


def cmd_watch(args: argparse.Namespace) -> int:
    """Print each task run as it starts and ends, until the execution ends."""
    client = _client(args)
    seen: dict[tuple[str, int], tuple[str, int]] = {}
    asked: set[str] = set()
    status = None
    while True:
        view = client.graph(args.execution)
        final = view["status"] in FINAL_STATUSES
        if not args.json:
            if view["status"] != status and not final:  # a final status comes after the last task runs
                say(f"{view['workflow']} {view['status']} (execution {view['execution_id']})", flush=True)
                status = view["status"]
            runs = sorted(((run.get("started_at") or 0, task["name"], run) for task in view["tasks"]
                           for run in task["runs"]), key=lambda r: (r[0], r[1], r[2]["run"]))
            for _, name, run in runs:
                key, now = (name, run["run"]), (run["status"], run["attempts"])
                if seen.get(key) == now:
                    continue
                seen[key] = now
                attempts = run["attempts"]
                err = run.get("error")
                tail = f": {err.get('message')}" if isinstance(err, dict) else ""
                say(f"  {name} (run {run['run']}) {run['status']}"
                    + (f", {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else "") + tail, flush=True)
            for inquiry in view["inquiries"]:
                if inquiry["id"] not in asked:
                    asked.add(inquiry["id"])
                    say(f"  {inquiry['task']} waits for an answer"
                        + (f" ({inquiry['prompt']})" if inquiry.get("prompt") else "")
                        + f": relayflow respond {inquiry['id']} --response JSON", flush=True)
        if final:
            break
        time.sleep(args.interval)
    if args.json:
        say(json.dumps(contract_result(client.describe(args.execution)), default=str))
    else:
        say(f"{view['workflow']} {view['status']} (execution {view['execution_id']})")
        if view["error"]:
            say(f"error: {json.dumps(view['error'], default=str)}")
    return EXIT_OK if view["status"] == "succeeded" else EXIT_NOT_SUCCEEDED


def cmd_control(args: argparse.Namespace) -> int:
    out = _client(args).control(args.execution, args.command, getattr(args, "reason", None))
    say(f"{out['requested']} requested for execution {out['execution_id']}")
    return EXIT_OK


def cmd_respond(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.inquiry is None:
        pending = client.inquiries("pending")
        if args.json:
            say(json.dumps(pending, default=str))
        for inquiry in [] if args.json else pending:
            prompt = f"  {inquiry['prompt']}" if inquiry.get("prompt") else ""
            say(f"{inquiry['id']}  {inquiry['workflow']}  {inquiry['task']}{prompt}")
        if not pending and not args.json:
            say("no pending inquiries")
        return EXIT_OK
    if args.response is None:
        raise UsageError("respond: --response JSON (or @file.json) is required with an inquiry id")
    out = client.respond(args.inquiry, _read_input(args.response))
    say(json.dumps(out) if args.json else f"inquiry {out['inquiry']} {out['status']}")
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    events = _client(args).history(args.execution)
    if args.json:
        say(json.dumps({"events": events}, default=str))
        return EXIT_OK
    t0 = events[0].get("at", 0.0) if events else 0.0
    for e in events:
        what = e.get("task") or ""
        if "run" in e and what:
            what += f" (run {e['run']})"
        err = e.get("error")
        tail = f": {err.get('message')}" if isinstance(err, dict) else ""
        say(f"{(e.get('at') or t0) - t0:>8.1f}s  {e['type']:<20}{what}{tail}")
    return EXIT_OK


def _api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", help="the API's base URL (default: $RELAYFLOW_API or http://127.0.0.1:8080); "
                                      "requests to a non-loopback URL are signed with SigV4")
    parser.add_argument("--region", help="AWS region for signing (default: from the URL or the AWS config)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relayflow",
                                     description="Run, validate, draw and test relayflow workflows.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workflow on this machine")
    run.add_argument("workflow", help="the workflow file")
    _add_action_module(run)
    run.add_argument("--input", help="the input as JSON, or @file.json")
    run.add_argument("--json", action="store_true", help="print only the result, as one JSON object")
    run.add_argument("--real-time", action="store_true", help="really wait for sleeps, retries and timeouts")
    run.add_argument("--backend", choices=["local", "memory"], default="local",
                     help="local: the embedded AWS stack, the same Lambda handlers on moto (default); "
                          "memory: in-process twins of every service, fastest")
    run.set_defaults(func=cmd_run)
    val = sub.add_parser("validate", help="check workflow files and report every problem")
    val.add_argument("files", nargs="+")
    _add_action_module(val)
    val.set_defaults(func=cmd_validate)
    gr = sub.add_parser("graph", help="draw a workflow's task graph, or an execution's with each task's status")
    gr.add_argument("workflow", nargs="?")
    gr.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    gr.add_argument("--execution", metavar="ID", help="draw this execution (Mermaid, from the API)")
    _api_options(gr)
    gr.set_defaults(func=cmd_graph)
    te = sub.add_parser("test", help="run workflow tests (YAML files of cases with mocks and expectations)")
    te.add_argument("files", nargs="+", help="test files, or folders of them")
    _add_action_module(te)
    te.add_argument("--json", action="store_true", help="print the report as one JSON object")
    te.set_defaults(func=cmd_test)

    se = sub.add_parser("serve", help="serve the HTTP API (and the graph page) on 127.0.0.1 over the embedded stack")
    se.add_argument("workflows", nargs="*", metavar="WORKFLOW_DIR",
                    help="workflow files, or folders of them, to register at start")
    se.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free port)")
    se.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    se.add_argument("--backend", choices=["local", "memory"], default="local",
                    help="local: the embedded AWS stack (default); memory: in-process twins")
    se.add_argument("--quiet", action="store_true", help="do not log requests")
    se.add_argument("--token", action="store_true",
                    help="require 'Authorization: Bearer $RELAYFLOW_TOKEN' on every request (for shared "
                         "machines; the CLI sends it from the same variable)")
    _add_action_module(se)
    se.set_defaults(func=cmd_serve)

    st = sub.add_parser("start", help="start an execution through the API")
    st.add_argument("workflow", help="a registered workflow's name")
    st.add_argument("--input", help="the input as JSON, or @file.json")
    st.add_argument("--idempotency-key", help="repeats with the same key start one execution")
    st.add_argument("--version", help="a version of the workflow (default: the latest)")
    st.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    _api_options(st)
    st.set_defaults(func=cmd_start)

    for name, helptext in (("status", "show an execution (--json: as run --json prints it)"),
                           ("watch", "follow an execution's task runs until it ends"),
                           ("history", "list an execution's lifecycle events in order")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("execution", help="an execution id")
        p.add_argument("--json", action="store_true", help="print JSON")
        if name == "watch":
            p.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
        _api_options(p)
        p.set_defaults(func={"status": cmd_status, "watch": cmd_watch, "history": cmd_history}[name])

    for name, helptext in (("pause", "pause an execution"), ("resume", "resume a paused execution"),
                           ("cancel", "cancel an execution"),
                           ("redrive", "rerun a failed execution from its failed task runs")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("execution", help="an execution id")
        if name != "redrive":
            p.add_argument("--reason", help="why (kept with the request)")
        _api_options(p)
        p.set_defaults(func=cmd_control)

    rs = sub.add_parser("respond", help="answer an approval (core.ask); without an id, list the pending ones")
    rs.add_argument("inquiry", nargs="?", help="the inquiry id")
    rs.add_argument("--response", help="the answer as JSON, or @file.json")
    rs.add_argument("--json", action="store_true", help="print JSON")
    _api_options(rs)
    rs.set_defaults(func=cmd_respond)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    try:
        code = int(args.func(args))
    except UsageError as exc:
        print(f"relayflow: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        print(f"relayflow: {exc}", file=sys.stderr)
        for detail in exc.details:
            print(f"  {detail.get('text', detail) if isinstance(detail, dict) else detail}", file=sys.stderr)
        return EXIT_NOT_SUCCEEDED if exc.status >= 500 else EXIT_USAGE
    except BrokenPipeError:  # stdout's reader went away
        _silence_stdout()
        return EXIT_NOT_SUCCEEDED
    try:
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
    return code


if __name__ == "__main__":
    sys.exit(main())
