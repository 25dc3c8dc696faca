"""`relayflow doctor` runs its smoke test through the HTTP API, the same code path it takes
against a deployed stack: here against `relayflow serve` over the embedded AWS stack."""
from __future__ import annotations

import json

from relayflow import cli, doctor
from relayflow.client import Client


def test_doctor_passes_on_the_embedded_stack(local_api, capsys):
    code = cli.main(["doctor", "--api", local_api.url, "--json", "--timeout", "180"])
    printed = capsys.readouterr()
    assert printed.out, f"doctor printed no report (exit {code}): {printed.err}"
    report = json.loads(printed.out)
    assert code == 0, report
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == [
        "register", "start", "approval", "timer (EventBridge Scheduler)", "retry (a delay timer, then attempt 2)",
        "with_items", "nested workflow", "approval answered", "finish"]
    assert all(c["ok"] for c in report["checks"])
    assert "after 2 attempt(s)" in report["checks"][4]["detail"]
    # nothing the smoke test did broke one of AWS's rules
    assert local_api.server.stack.contract.take_breaches() == []


def test_doctor_names_the_step_that_never_finished(api):
    # A Scheduler that never delivers (a timer lost on AWS): the sleep never ends.
    api.server.stack.timers.start = lambda timer: None
    lines: list[str] = []
    report = doctor.run(Client(api.url), timeout=3, poll=0.2, say=lines.append)
    assert not report.ok
    assert report.checks[-1].name == "finish" and not report.checks[-1].ok
    assert "timer#1 running" in report.checks[-1].detail
    assert lines[-1].startswith("FAIL finish: still running")


def test_doctor_reports_an_unreachable_api():
    report = doctor.run(Client("http://127.0.0.1:9"), timeout=1)
    assert not report.ok and report.checks[0].name == "api" and "cannot reach" in report.checks[0].detail
