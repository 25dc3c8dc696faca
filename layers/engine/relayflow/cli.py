"""The ``relayflow`` command: run, validate, draw and test workflows; serve the API and drive it."""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from .client import ApiError
from .core import graph
from .core.errors import InputError, Problem
from .core.loader import parse_file, workflow_files
from .progress import Printer, items_text

EXIT_OK, EXIT_NOT_SUCCEEDED, EXIT_USAGE = 0, 1, 2

# The keys of `run --json` (DESIGN.md §4): exactly these, in this order.
RESULT_KEYS = ("execution_id", "workflow", "status", "output", "error", "tasks")
TASK_RUN_KEYS = ("name", "run", "status", "attempts", "result", "error")
PROGRESS_READ_EVERY = 0.5  # seconds between reads of the running runs' item counts


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


def _spec_of(stack: Any, name: str) -> Any:
    registry = stack.runtime.workflows if hasattr(stack, "runtime") else stack.workflows
    try:
        return registry.get(name)
    except KeyError:
        return None


def _run_with_progress(stack: Any, workflow: str, payload: Any, printer: Printer | None) -> dict[str, Any]:
    """Start ``workflow`` and pump the stack until nothing is left to do, telling ``printer``
    between steps how far each running with_items / parallel run is."""
    eid = stack.start(workflow, payload)
    store = stack.runtime.store if hasattr(stack, "runtime") else stack.store
    last_read = 0.0
    while stack.step():
        now = time.monotonic()
        if printer is not None and now - last_read >= PROGRESS_READ_EVERY:
            last_read = now
            printer.items(_running_items(store, eid))
    if printer is not None:
        printer.close()
    return stack.describe(eid)


def _running_items(store: Any, eid: str) -> list[tuple[str, int, dict[str, int]]]:
    from .service import items_progress
    out = []
    for run in store.list_runs(eid):
        progress = items_progress(run)
        if progress is not None and not run.final:
            out.append((run.task, run.run, progress))
    return out


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
    breached: tuple[type[BaseException], ...] = ()
    if args.backend == "local":  # a call AWS would refuse (moto took it) fails the run loudly
        from .local.contract import ContractBreached
        breached = (ContractBreached,)
    try:
        _register_siblings(stack, args.workflow, quiet=args.json, registry=registry)
        stack.register(spec)
        printer = None
        if not args.json:
            printer = Printer(None, spec_of=lambda name: _spec_of(stack, name))  # None: sys.stdout when printing
            stack.subscribe(printer)
        try:
            result = contract_result(_run_with_progress(stack, spec.name, payload, printer))
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
            problems = problems + _refusals(spec, _registry(args, [os.path.dirname(os.path.abspath(path))]))
        if args.json:
            report.append({"file": path, "ok": spec is not None, "workflow": spec.name if spec else None,
                           "problems": [{"line": p.line, "task": p.task, "field": p.field, "message": p.message,
                                         "severity": p.severity, "text": str(p)} for p in problems]})
            failed = failed or spec is None or any(p.severity == "error" for p in problems)
            continue
        _print_problems(problems)
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
        view = _client(args).graph(args.execution)
        if args.json:
            say(json.dumps({**view, "dot": _view_dot(view)}, default=str))
            return EXIT_OK
        say(view["mermaid"] if args.format == "mermaid" else _view_dot(view), end="")
        return EXIT_OK
    if args.workflow is None:
        raise UsageError("graph: give a workflow file, or --execution ID with --api")
    spec, problems = parse_file(args.workflow)
    if spec is None:
        _print_problems(problems)
        return EXIT_USAGE
    if args.json:
        say(json.dumps({"workflow": spec.name, "mermaid": graph.to_mermaid(spec), "dot": graph.to_dot(spec)}))
        return EXIT_OK
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
        if args.json:
            say(json.dumps({"url": server.url, "backend": args.backend, "console": f"{server.url}/ui",
                            "openapi": f"{server.url}/openapi.json"}), flush=True)
        else:
            say(f"relayflow API on {server.url} (backend {args.backend}, real time)\n"
                f"  console:          {server.url}/ui\n"
                f"  OpenAPI document: {server.url}/openapi.json\n"
                "Ctrl-C stops it.", flush=True)
        server.serve_forever()
    finally:
        close = getattr(stack, "close", None)
        if close is not None:
            close()
    return EXIT_OK


def cmd_console(args: argparse.Namespace) -> int:
    from .console_proxy import serve
    return serve(_client(args), args.port, args.json)


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


def run_line(name: str, run: dict[str, Any]) -> str:
    """One task run as status and watch print it: status, attempts, items, child, last error."""
    attempts = run["attempts"]
    parts = [f"  {name} (run {run['run']}) {run['status']}"]
    if attempts:
        parts.append(f", {attempts} attempt{'s' if attempts != 1 else ''}")
    if run.get("items"):
        parts.append(f", {items_text(run['items'])}")
    if run.get("child_execution"):
        parts.append(f", child execution {run['child_execution']}")
    err = run.get("error")
    if isinstance(err, dict):
        parts.append(f": {err.get('message')}")
    return "".join(parts)


def _headline(view: dict[str, Any], prefix: str = "workflow ") -> str:
    reason = f": {view['reason']}" if view.get("reason") else ""
    return f"{prefix}{view['workflow']} {view['status']}{reason} (execution {view['execution_id']})"


def cmd_status(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.json:
        say(json.dumps(contract_result(client.describe(args.execution)), default=str))
        return EXIT_OK
    view = client.graph(args.execution)
    say(_headline(view))
    for task in view["tasks"]:
        for run in task["runs"]:
            say(run_line(task["name"], run))
    for inquiry in view["inquiries"]:
        say(f"  {inquiry['task']} waits for an answer: relayflow respond {inquiry['id']}")
    if view["error"]:
        say(f"error: {json.dumps(view['error'], default=str)}")
    if view["output"] is not None:
        say("output: " + json.dumps(view["output"], indent=2, default=str))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    page = _client(args).executions(args.workflow, args.status, args.limit, args.next)
    if args.json:
        say(json.dumps(page, default=str))
        return EXIT_OK
    if not page["executions"]:
        say("no executions")
    for e in page["executions"]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e["created_at"])) if e.get("created_at") else "-"
        took = f"{e['finished_at'] - e['created_at']:.1f}s" if e.get("finished_at") else "-"
        say(f"{e['execution_id']}  {e['workflow']:<24} {e['status']:<10} {when}Z  {took}")
    if page.get("next"):
        say(f"more: relayflow list --next {page['next']}" + "".join(
            f" --{k} {getattr(args, k)}" for k in ("workflow", "status", "limit") if getattr(args, k)))
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    client = _client(args)
    out, failed = [], False
    for path in _workflow_files(args.files):
        spec, problems = parse_file(path)
        if spec is None:
            _print_problems(problems)
            failed = True
            continue
        answer = client.register(spec.text, spec.name)
        out.append({"file": path, **answer})
        if not args.json:
            say(f"{path}: registered {answer['name']} version {answer['version']}")
    if args.json:
        say(json.dumps({"registered": out}, default=str))
    return EXIT_USAGE if failed else EXIT_OK


FINAL_STATUSES = ("succeeded", "failed", "timed_out", "cancelled")


def cmd_watch(args: argparse.Namespace) -> int:
    """Print each task run as it starts and ends, until the execution ends."""
    client = _client(args)
    seen: dict[tuple[str, int], tuple[Any, ...]] = {}
    asked: set[str] = set()
    status = None
    while True:
        view = client.graph(args.execution)
        final = view["status"] in FINAL_STATUSES
        if not args.json:
            if view["status"] != status and not final:  # a final status comes after the last task runs
                say(_headline(view, ""), flush=True)
                status = view["status"]
            runs = sorted(((run.get("started_at") or 0, task["name"], run) for task in view["tasks"]
                           for run in task["runs"]), key=lambda r: (r[0], r[1], r[2]["run"]))
            for _, name, run in runs:
                items = run.get("items") or {}
                key = (name, run["run"])
                now = (run["status"], run["attempts"], items.get("succeeded"), items.get("failed"))
                if seen.get(key) == now:
                    continue
                seen[key] = now
                say(run_line(name, run), flush=True)
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
        say(_headline(view, ""))
        if view["error"]:
            say(f"error: {json.dumps(view['error'], default=str)}")
    return EXIT_OK if view["status"] == "succeeded" else EXIT_NOT_SUCCEEDED


def cmd_control(args: argparse.Namespace) -> int:
    out = _client(args).control(args.execution, args.command, getattr(args, "reason", None))
    say(json.dumps(out) if args.json else f"{out['requested']} requested for execution {out['execution_id']}")
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
    response = _read_input(args.response) if args.response is not None else _ask(client.inquiry(args.inquiry), args)
    out = client.respond(args.inquiry, response)
    say(json.dumps(out) if args.json else f"inquiry {out['inquiry']} {out['status']}")
    return EXIT_OK


def _ask(inquiry: dict[str, Any], args: argparse.Namespace) -> Any:
    """Show the inquiry's prompt and schema; on a terminal, read the answer (JSON) from it."""
    schema = inquiry.get("schema")
    print(f"inquiry {inquiry['id']}: {inquiry['workflow']} / {inquiry['task']} ({inquiry['status']})",
          file=sys.stderr)
    if inquiry.get("prompt"):
        print(f"  {inquiry['prompt']}", file=sys.stderr)
    if schema:
        print("  the answer must match this schema:", file=sys.stderr)
        for line in json.dumps(schema, indent=2).splitlines():
            print(f"    {line}", file=sys.stderr)
    if args.json or not sys.stdin.isatty():
        raise UsageError("respond: --response JSON (or @file.json) is required here (no terminal to ask on)")
    properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
    if properties and (schema or {}).get("type") == "object":
        answer: dict[str, Any] = {}
        for name, prop in properties.items():
            hint = prop.get("type", "JSON") if isinstance(prop, dict) else "JSON"
            required = name in ((schema or {}).get("required") or [])
            raw = input(f"{name} ({hint}{', required' if required else ''}): ").strip()
            if not raw and not required:
                continue
            try:
                answer[name] = json.loads(raw)
            except ValueError:
                answer[name] = raw  # a bare word is a string
        return answer
    raw = input("answer (JSON): ")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"respond: the answer is not JSON: {exc}") from None


def _view_dot(view: dict[str, Any]) -> str:
    """Graphviz of an execution: each task with its kind and status, coloured by status."""
    colours = {"succeeded": "#c8f7c5", "failed": "#f7c5c5", "timed_out": "#f7d9c5", "running": "#c5daf7",
               "skipped": "#e0e0e0", "cancelled": "#e0e0e0", "paused": "#f7f0c5"}

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [f"digraph {q(view['workflow'])} {{", "  rankdir=TB;", "  node [shape=box, style=filled];"]
    for task in view["tasks"]:
        label = f"{task['name']}\n{task['kind']}\n{task['status'].replace('_', ' ')}"
        items = task.get("items")
        if items:
            label += f"\n{items['succeeded'] + items['failed']}/{items['total']} items"
        fill = colours.get(task["status"], "#ffffff")
        shape = ", shape=box3d" if task.get("join") else ""
        lines.append(f"  {q(task['name'])} [label={q(label)}, fillcolor={q(fill)}{shape}];")
    for edge in view["edges"]:
        attr = f" [label={q(edge['label'])}]" if edge["label"] else ""
        lines.append(f"  {q(edge['from'])} -> {q(edge['to'])}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


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


def cmd_cost(args: argparse.Namespace) -> int:
    view = _client(args).cost(args.execution)
    cost = view.get("cost") or {}
    if args.json:
        say(json.dumps({"execution_id": view["execution_id"], "status": view["status"], **cost}, default=str))
        return EXIT_OK
    say(f"{view['workflow']} {view['status']} (execution {view['execution_id']}): AWS requests so far, "
        f"estimated at us-east-1 list prices")
    dollars = cost.get("dollars") or {}
    for service, counts in (cost.get("requests") or {}).items():
        what = ", ".join(f"{n:g} {label}" for label, n in counts.items())
        say(f"  {service:<10}{'$' + format(dollars.get(service, 0.0), '.6f'):>12}  {what}")
    say(f"  {'total':<10}{'$' + format(cost.get('total_dollars', 0.0), '.6f'):>12}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from . import doctor
    report = doctor.run(_client(args), timeout=args.timeout, say=None if args.json else lambda line: say(line))
    if args.json:
        say(json.dumps(report.to_dict()))
    return EXIT_OK if report.ok else EXIT_NOT_SUCCEEDED


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
    val.add_argument("files", nargs="+", help="workflow files, or folders of them (searched with subfolders)")
    _add_action_module(val)
    val.add_argument("--json", action="store_true", help="print every file's problems as one JSON object")
    val.set_defaults(func=cmd_validate)
    gr = sub.add_parser("graph", help="draw a workflow's task graph, or an execution's with each task's status")
    gr.add_argument("workflow", nargs="?")
    gr.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    gr.add_argument("--execution", metavar="ID", help="draw this execution with each task's status (from the API)")
    gr.add_argument("--json", action="store_true", help="with --execution: print the API's graph view as JSON")
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
    se.add_argument("--json", action="store_true", help="print where it listens as one JSON line")
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
                           ("history", "list an execution's lifecycle events in order"),
                           ("cost", "an execution's AWS requests by service and their cost (an estimate)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("execution", help="an execution id")
        p.add_argument("--json", action="store_true", help="print JSON")
        if name == "watch":
            p.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
        _api_options(p)
        p.set_defaults(func={"status": cmd_status, "watch": cmd_watch, "history": cmd_history,
                             "cost": cmd_cost}[name])

    for name, helptext in (("pause", "pause an execution"), ("resume", "resume a paused execution"),
                           ("cancel", "cancel an execution"),
                           ("redrive", "rerun a failed execution from its failed task runs")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("execution", help="an execution id")
        if name != "redrive":
            p.add_argument("--reason", help="why (kept with the request)")
        p.add_argument("--json", action="store_true", help="print the API's answer as JSON")
        _api_options(p)
        p.set_defaults(func=cmd_control)

    ls = sub.add_parser("list", help="list executions, newest first (through the API)")
    ls.add_argument("--workflow", help="only this workflow's executions")
    ls.add_argument("--status", choices=["running", "paused", "succeeded", "failed", "timed_out", "cancelled"])
    ls.add_argument("--limit", type=int, help="page size (default 50, at most 100)")
    ls.add_argument("--next", help="the token a previous page printed")
    ls.add_argument("--json", action="store_true", help="print the API's page as JSON")
    _api_options(ls)
    ls.set_defaults(func=cmd_list)
    rg = sub.add_parser("register", help="register workflow files (or folders of them) with the API")
    rg.add_argument("files", nargs="+", help="workflow files, or folders of them")
    rg.add_argument("--json", action="store_true", help="print what was registered as JSON")
    _api_options(rg)
    rg.set_defaults(func=cmd_register)

    co = sub.add_parser("console", help="open the console of a deployed stack through a local proxy that signs "
                                        "requests with your AWS credentials")
    co.add_argument("--port", type=int, default=8081, help="local port (default 8081; 0: any free port)")
    co.add_argument("--json", action="store_true", help="print where the console is as one JSON line")
    _api_options(co)
    co.set_defaults(func=cmd_console)

    rs = sub.add_parser("respond", help="answer an approval (core.ask); without an id, list the pending ones")
    rs.add_argument("inquiry", nargs="?", help="the inquiry id")
    rs.add_argument("--response", help="the answer as JSON, or @file.json")
    rs.add_argument("--json", action="store_true", help="print JSON")
    _api_options(rs)
    rs.set_defaults(func=cmd_respond)
    dr = sub.add_parser("doctor", help="smoke-test a deployed stack through its API (a timer, a retry, "
                                       "with_items, a nested child, an approval)")
    dr.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the workflow (default 300)")
    dr.add_argument("--json", action="store_true", help="print one JSON report")
    _api_options(dr)
    dr.set_defaults(func=cmd_doctor)
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
