"""The commands that serve the API or drive it: serve, console, start, status, list, register,
watch, control, respond, history, cost, doctor."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from ..core.loader import parse_file
from ..progress import items_text
from ..summary import summary_from
from .common import (
    EXIT_NOT_SUCCEEDED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    client_for,
    print_problems,
    read_input,
    refusals,
    registry_for,
    say,
)


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
    from ..serve import ApiServer, freeze_heap, make_stack
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
    registry = registry_for(args, folders)
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
            refused = refusals(spec, registry)
            if refused:
                print(f"note: {path} is not registered: {refused[0]}", file=sys.stderr)
                continue
            stack.register(spec)
            print(f"registered {spec.name} ({len(spec.tasks)} task{'s' if len(spec.tasks) != 1 else ''}) "
                  f"from {path}", file=sys.stderr)
        freeze_heap()  # the stack is up: keep it out of the garbage collector's full passes
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
    from ..console_proxy import serve
    return serve(client_for(args), args.port, args.json)


def cmd_start(args: argparse.Namespace) -> int:
    client = client_for(args)
    out = client.start(args.workflow, read_input(args.input) if args.input is not None else None,
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
    if run.get("started_at") is not None and run.get("finished_at") is not None:
        parts.append(f", took {run['finished_at'] - run['started_at']:.1f}s")
    err = run.get("error")
    if isinstance(err, dict):
        parts.append(f": {err.get('message')}")
    return "".join(parts)


def _headline(view: dict[str, Any], prefix: str = "workflow ") -> str:
    reason = f": {view['reason']}" if view.get("reason") else ""
    return f"{prefix}{view['workflow']} {view['status']}{reason} (execution {view['execution_id']})"


def cmd_status(args: argparse.Namespace) -> int:
    client = client_for(args)
    if args.json:
        say(json.dumps(summary_from(client.describe(args.execution), timings=True), default=str))
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
    page = client_for(args).executions(args.workflow, args.status, args.limit, args.next)
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
    client = client_for(args)
    out, failed = [], False
    for path in _workflow_files(args.files):
        spec, problems = parse_file(path)
        if spec is None:
            print_problems(problems)
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
    client = client_for(args)
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
        say(json.dumps(summary_from(client.describe(args.execution), timings=True), default=str))
    else:
        say(_headline(view, ""))
        if view["error"]:
            say(f"error: {json.dumps(view['error'], default=str)}")
    return EXIT_OK if view["status"] == "succeeded" else EXIT_NOT_SUCCEEDED


def cmd_control(args: argparse.Namespace) -> int:
    out = client_for(args).control(args.execution, args.command, getattr(args, "reason", None))
    say(json.dumps(out) if args.json else f"{out['requested']} requested for execution {out['execution_id']}")
    return EXIT_OK


def cmd_respond(args: argparse.Namespace) -> int:
    client = client_for(args)
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
    response = read_input(args.response) if args.response is not None else _ask(client.inquiry(args.inquiry), args)
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


def view_dot(view: dict[str, Any]) -> str:
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
    events = client_for(args).history(args.execution)
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
    view = client_for(args).cost(args.execution)
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
    from .. import doctor
    report = doctor.run(client_for(args), timeout=args.timeout, say=None if args.json else lambda line: say(line))
    if args.json:
        say(json.dumps(report.to_dict()))
    return EXIT_OK if report.ok else EXIT_NOT_SUCCEEDED


