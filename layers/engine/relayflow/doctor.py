"""``relayflow doctor``: a smoke test of a deployed stack, through its HTTP API.

It registers a small workflow that uses every moving part a deployment can get
wrong (a timer, a retry, a ``with_items``, a nested child and an approval),
starts it, answers the approval, waits for the end and checks each step. Each
part fails on AWS for its own reason (a Scheduler that cannot deliver, a FIFO
group id refused, a missing permission), so each is reported on its own line.

It talks only to the API (``Client``: SigV4-signed for a deployed API, plain for
``relayflow serve`` on loopback), so the very same code path is tested here
against the embedded stack and run against AWS after ``sam deploy``.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import ApiError, Client

PARENT = "relayflow-doctor"
CHILD = "relayflow-doctor.child"

CHILD_YAML = f"""\
name: {CHILD}
description: relayflow doctor's nested child
input:
  x: {{type: integer, required: true}}
tasks:
  - name: double
    action: core.echo
    input: {{doubled: "{{{{ input.x * 2 }}}}"}}
output:
  doubled: "{{{{ task.double.result.doubled }}}}"
"""

PARENT_YAML = f"""\
name: {PARENT}
description: relayflow doctor's smoke test (a timer, a retry, with_items, a nested child, an approval)
input:
  sleep: {{type: integer, default: 2}}
tasks:
  - name: timer
    action: core.sleep
    input: {{seconds: "{{{{ input.sleep }}}}"}}
    on_success: retry
  - name: retry
    action: core.fail
    input: {{succeed_on_attempt: 2, message: "the doctor's planned first failure"}}
    retry: {{count: 1, delay: 1}}
    on_success: items
  - name: items
    action: core.echo
    with_items: "{{{{ [1, 2, 3] }}}}"
    concurrency: 2
    input: {{n: "{{{{ item }}}}"}}
    on_success: child
  - name: child
    workflow: {CHILD}
    input: {{x: 21}}
    on_success: approve
  - name: approve
    action: core.ask
    input:
      prompt: "relayflow doctor: answer to finish the smoke test"
      schema: {{type: object, properties: {{ok: {{type: boolean}}}}, required: [ok]}}
    timeout: 900
output:
  items: "{{{{ task.items.result }}}}"
  child: "{{{{ task.child.result }}}}"
  answer: "{{{{ task.approve.result }}}}"
"""

FINAL = {"succeeded", "failed", "timed_out", "cancelled"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass
class Report:
    execution_id: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "execution_id": self.execution_id,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def run(client: Client, timeout: float = 300.0, poll: float = 1.0, say: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep) -> Report:
    """Run the smoke test; ``say`` gets each check's line as it is known."""
    report = Report()

    def check(name: str, ok: bool, detail: str) -> bool:
        report.checks.append(Check(name, ok, detail))
        if say is not None:
            say(report.checks[-1].line())
        return ok

    try:
        for name, text in ((CHILD, CHILD_YAML), (PARENT, PARENT_YAML)):
            client.request("PUT", f"/workflows/{name}", raw=text.encode(),
                           headers={"Content-Type": "application/yaml"})
        check("register", True, f"{PARENT} and {CHILD} registered")
        started = client.start(PARENT, {"sleep": 2}, idempotency_key=f"doctor-{uuid.uuid4().hex}")
        eid = report.execution_id = started["execution_id"]
        check("start", True, f"execution {eid}")
        deadline = time.monotonic() + timeout
        answered = False
        while True:
            result = client.describe(eid)
            if result["status"] in FINAL:
                break
            if not answered:
                pending = [i for i in client.inquiries("pending") if i.get("execution_id") == eid]
                if pending:
                    client.respond(pending[0]["id"], {"ok": True})
                    answered = check("approval", True, f"inquiry {pending[0]['id']} answered")
            if time.monotonic() > deadline:
                check("finish", False, f"still {result['status']} after {timeout:g} s; "
                      f"tasks so far: {_runs(result)}")
                return report
            sleep(poll)
    except ApiError as exc:
        check("api", False, str(exc))
        return report
    _verify(result, answered, check)
    return report


def _runs(result: dict[str, Any]) -> str:
    return ", ".join(f"{t['name']}#{t['run']} {t['status']} ({t['attempts']} attempt(s))"
                     for t in result.get("tasks", [])) or "none"


def _verify(result: dict[str, Any], answered: bool, check: Callable[[str, bool, str], bool]) -> None:
    tasks = {t["name"]: t for t in result.get("tasks", [])}

    def task(name: str, what: str, good: Callable[[dict[str, Any]], bool]) -> None:
        t = tasks.get(name)
        if t is None:
            check(what, False, f"task {name} never ran")
            return
        error = f", error {t['error']}" if t.get("error") else ""
        check(what, t["status"] == "succeeded" and good(t),
              f"task {name} {t['status']} after {t['attempts']} attempt(s){error}")

    task("timer", "timer (EventBridge Scheduler)", lambda t: True)
    task("retry", "retry (a delay timer, then attempt 2)", lambda t: t["attempts"] == 2)
    task("items", "with_items", lambda t: [r.get("n") for r in t["result"] or []] == [1, 2, 3])
    task("child", "nested workflow", lambda t: t["result"] == {"doubled": 42})
    if not answered:
        check("approval", False, "no pending inquiry was ever seen for the execution")
    task("approve", "approval answered", lambda t: t["result"] == {"ok": True})
    check("finish", result["status"] == "succeeded",
          f"workflow {result['status']}" + (f": {result['error']}" if result.get("error") else ""))
