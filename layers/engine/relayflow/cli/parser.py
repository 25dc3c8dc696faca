"""The command line: its parser, and ``main``."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..client import ApiError
from .common import EXIT_NOT_SUCCEEDED, EXIT_USAGE, UsageError, add_action_module, api_options, silence_stdout
from .items import add_items_parser
from .local import cmd_graph, cmd_run, cmd_test, cmd_validate
from .remote import (
    cmd_console,
    cmd_control,
    cmd_cost,
    cmd_doctor,
    cmd_history,
    cmd_list,
    cmd_register,
    cmd_respond,
    cmd_serve,
    cmd_start,
    cmd_status,
    cmd_watch,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relayflow",
                                     description="Run, validate, draw and test relayflow workflows.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workflow on this machine")
    run.add_argument("workflow", help="the workflow file")
    add_action_module(run)
    run.add_argument("--input", help="the input as JSON, or @file.json")
    run.add_argument("--json", action="store_true", help="print only the result, as one JSON object")
    run.add_argument("--real-time", action="store_true", help="really wait for sleeps, retries and timeouts")
    run.add_argument("--backend", choices=["local", "memory"], default="local",
                     help="local: the embedded AWS stack, the same Lambda handlers on moto (default); "
                          "memory: in-process twins of every service, fastest")
    run.set_defaults(func=cmd_run)
    val = sub.add_parser("validate", help="check workflow files and report every problem")
    val.add_argument("files", nargs="+", help="workflow files, or folders of them (searched with subfolders)")
    add_action_module(val)
    val.add_argument("--json", action="store_true", help="print every file's problems as one JSON object")
    val.set_defaults(func=cmd_validate)
    gr = sub.add_parser("graph", help="draw a workflow's task graph, or an execution's with each task's status")
    gr.add_argument("workflow", nargs="?")
    gr.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    gr.add_argument("--execution", metavar="ID", help="draw this execution with each task's status (from the API)")
    gr.add_argument("--json", action="store_true", help="with --execution: print the API's graph view as JSON")
    api_options(gr)
    gr.set_defaults(func=cmd_graph)
    te = sub.add_parser("test", help="run workflow tests (YAML files of cases with mocks and expectations)")
    te.add_argument("files", nargs="+", help="test files, or folders of them")
    add_action_module(te)
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
    add_action_module(se)
    se.add_argument("--json", action="store_true", help="print where it listens as one JSON line")
    se.set_defaults(func=cmd_serve)

    st = sub.add_parser("start", help="start an execution through the API")
    st.add_argument("workflow", help="a registered workflow's name")
    st.add_argument("--input", help="the input as JSON, or @file.json")
    st.add_argument("--idempotency-key", help="repeats with the same key start one execution")
    st.add_argument("--version", help="a version of the workflow (default: the latest)")
    st.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    api_options(st)
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
        api_options(p)
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
        api_options(p)
        p.set_defaults(func=cmd_control)

    ls = sub.add_parser("list", help="list executions, newest first (through the API)")
    ls.add_argument("--workflow", help="only this workflow's executions")
    ls.add_argument("--status", choices=["running", "paused", "succeeded", "failed", "timed_out", "cancelled"])
    ls.add_argument("--limit", type=int, help="page size (default 50, at most 100)")
    ls.add_argument("--next", help="the token a previous page printed")
    ls.add_argument("--json", action="store_true", help="print the API's page as JSON")
    api_options(ls)
    ls.set_defaults(func=cmd_list)
    add_items_parser(sub, api_options)
    rg = sub.add_parser("register", help="register workflow files (or folders of them) with the API")
    rg.add_argument("files", nargs="+", help="workflow files, or folders of them")
    rg.add_argument("--json", action="store_true", help="print what was registered as JSON")
    api_options(rg)
    rg.set_defaults(func=cmd_register)

    co = sub.add_parser("console", help="open the console of a deployed stack through a local proxy that signs "
                                        "requests with your AWS credentials")
    co.add_argument("--port", type=int, default=8081, help="local port (default 8081; 0: any free port)")
    co.add_argument("--json", action="store_true", help="print where the console is as one JSON line")
    api_options(co)
    co.set_defaults(func=cmd_console)

    rs = sub.add_parser("respond", help="answer an approval (core.ask); without an id, list the pending ones")
    rs.add_argument("inquiry", nargs="?", help="the inquiry id")
    rs.add_argument("--response", help="the answer as JSON, or @file.json")
    rs.add_argument("--json", action="store_true", help="print JSON")
    api_options(rs)
    rs.set_defaults(func=cmd_respond)
    dr = sub.add_parser("doctor", help="smoke-test a deployed stack through its API (a timer, a retry, "
                                       "with_items, a nested child, an approval)")
    dr.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the workflow (default 300)")
    dr.add_argument("--json", action="store_true", help="print one JSON report")
    api_options(dr)
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
        silence_stdout()
        return EXIT_NOT_SUCCEEDED
    try:
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at interpreter exit
    except BrokenPipeError:
        silence_stdout()
    return code


if __name__ == "__main__":
    sys.exit(main())

