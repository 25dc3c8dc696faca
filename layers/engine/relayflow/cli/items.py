"""``relayflow items``: a with_items or parallel run's items, a page at a time, with their timings."""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..progress import items_text
from .common import EXIT_OK, UsageError, client_for, say


def _stamp(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def _latest_run(client: Any, execution: str, task: str) -> int:
    view = client.graph(execution)
    names = [t["name"] for t in view["tasks"]]
    found = next((t for t in view["tasks"] if t["name"] == task), None)
    if found is None:
        raise UsageError(f"execution {execution} has no task {task!r} (its tasks: {', '.join(names)})")
    if not found["runs"]:
        raise UsageError(f"task {task!r} of execution {execution} has not run yet")
    return int(found["runs"][-1]["run"])


def _row(unit: dict[str, Any]) -> str:
    took = f"{unit['duration']:.3f}s" if unit.get("duration") is not None else "-"
    err = unit.get("error")
    message = (err.get("message") if isinstance(err, dict) else None) or ("" if err is None else str(err))
    child = f" child {unit['child_execution']}" if unit.get("child_execution") else ""
    return (f"{unit['index']:>6}  {unit['status']:<10}{unit['attempts']:>9}  {_stamp(unit.get('started_at')):<25}"
            f"{_stamp(unit.get('finished_at')):<25}{took:>10}{child}  {message}").rstrip()


def cmd_items(args: argparse.Namespace) -> int:
    client = client_for(args)
    run = args.run if args.run is not None else _latest_run(client, args.execution, args.task)
    offset: int | None = args.offset
    units: list[dict[str, Any]] = []
    while True:
        page = client.run_detail(args.execution, args.task, run, offset=offset, limit=args.limit,
                                 status=args.status)
        if page["kind"] == "single":
            raise UsageError(f"run {run} of task {args.task!r} is a single task, with no items "
                             f"(relayflow status {args.execution} shows its attempts)")
        units += page["units"]
        if not args.all or page["next_offset"] is None:
            break
        offset = page["next_offset"]
    next_offset = None if args.all else page["next_offset"]
    if args.json:
        say(json.dumps({"execution_id": args.execution, "task": args.task, "run": run, "kind": page["kind"],
                        "status": page["status"], "items": page["items"], "units": units,
                        "next_offset": next_offset}, default=str))
        return EXIT_OK
    progress = items_text(page["items"]) if page.get("items") else ""
    say(f"task {args.task} run {run} ({page['kind']}) {page['status']}" + (f", {progress}" if progress else ""))
    if not units:
        say("no items" + (f" in status {args.status}" if args.status else ""))
        return EXIT_OK
    say(f"{'index':>6}  {'status':<10}{'attempts':>9}  {'started (UTC)':<25}{'finished (UTC)':<25}{'took':>10}  error")
    for unit in units:
        say(_row(unit))
    if next_offset is not None:
        more = f"relayflow items {args.execution} {args.task} --run {run} --offset {next_offset}"
        if args.limit:
            more += f" --limit {args.limit}"
        if args.status:
            more += f" --status {args.status}"
        say(f"more: {more}   (or --all)")
    return EXIT_OK


def add_items_parser(sub: Any, api_options: Any) -> None:
    from ..core.status import UnitStatus
    p = sub.add_parser("items", help="list a with_items or parallel run's items with their status, attempts, "
                                     "timings and error, a page at a time (through the API)")
    p.add_argument("execution", help="an execution id")
    p.add_argument("task", help="the task's name")
    p.add_argument("--run", type=int, help="the task's run number (default: its latest run)")
    p.add_argument("--status", choices=[str(s) for s in UnitStatus], help="only the items in this status")
    p.add_argument("--limit", type=int, help="items per page (default 50, at most 100)")
    p.add_argument("--offset", type=int, help="the first item of the page (what a previous page printed)")
    p.add_argument("--all", action="store_true", help="every page, one after the other")
    p.add_argument("--json", action="store_true", help="print the run and its items as JSON")
    api_options(p)
    p.set_defaults(func=cmd_items)
