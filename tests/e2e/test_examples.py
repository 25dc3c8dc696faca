"""Every example in examples/ runs with `relayflow run`, and its `relayflow test` file passes.

The examples run on the memory backend (`--backend memory`), except one test
that runs the README's first command on the default backend, the embedded AWS
stack. The HTTP example runs against a local server on 127.0.0.1.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from relayflow import cli, testing

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCRIPT = Path(sys.executable).with_name("relayflow")

# example file -> (input, status, the output keys to check)
RUNS: dict[str, tuple[dict[str, Any] | None, str, dict[str, Any]]] = {
    "deploy.yaml": (None, "succeeded", {"image": "web:latest", "deployed": True}),
    "deploy_approval.yaml": (None, "succeeded", {"approved": False, "decided_by": None}),
    "etl.yaml": (None, "succeeded", {"files": 4, "rows": 756}),
    "incident.yaml": (None, "succeeded", {"severity": "critical", "action": "freed disk"}),
    "release.yaml": (None, "succeeded", {"released": ["eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2"]}),
    "release_region.yaml": ({"region": "eu-west-1", "artifact": "s3://releases/app.zip"}, "succeeded",
                            {"region": "eu-west-1", "verified": True}),
    "poll_job.yaml": (None, "succeeded", {"url": "s3://exports/export-42.parquet", "polls": 3}),
}


@pytest.fixture(autouse=True)
def _isolate_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["run", *argv, "--json"])
    out, err = capsys.readouterr()
    assert out.count("\n") == 1, out + err
    return code, json.loads(out)


def example_files() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def test_every_example_has_a_run_case_or_is_the_http_one() -> None:
    assert set(example_files()) == set(RUNS) | {"http_integration.yaml"}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_runs_on_the_memory_backend(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    payload, status, output = RUNS[name]
    argv = [str(EXAMPLES / name), "--backend", "memory"]
    if payload is not None:
        argv += ["--input", json.dumps(payload)]
    code, result = run_json(capsys, *argv)
    assert result["status"] == status, result["error"]
    assert code == (0 if status == "succeeded" else 1)
    assert {k: result["output"][k] for k in output} == output


def test_every_example_validates_without_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["validate", *(str(EXAMPLES / name) for name in example_files())])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    assert out.count(": ok (") == len(example_files())


def test_every_example_test_file_passes_and_covers_its_whole_graph() -> None:
    report = testing.run_files([str(EXAMPLES / "tests")])
    assert report.bad_files == [] and report.warnings == []
    failures = [(r.file, r.name, r.error, [m.to_dict() for m in r.mismatches]) for r in report.failed]
    assert failures == []
    tested = {Path(cov.file).name for cov in report.coverage.values()}
    assert tested == set(example_files())
    for cov in report.coverage.values():
        assert cov.never_ran == [], (cov.workflow, cov.never_ran)
        assert cov.never_fired == [], (cov.workflow, cov.never_fired)


def test_relayflow_test_on_the_examples_folder_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["test", str(EXAMPLES / "tests")])
    out, _ = capsys.readouterr()
    assert code == 0, out
    assert re.search(r"^\d+ cases: (\d+) passed, 0 failed$", out, re.M)


def test_every_example_is_named_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in example_files():
        assert f"examples/{name}" in readme, name


def test_the_readmes_first_command_runs_deploy_on_the_embedded_aws_stack() -> None:
    """`relayflow run examples/deploy.yaml` with the default backend: moto and the real Lambda handlers."""
    proc = subprocess.run([str(SCRIPT), "run", "examples/deploy.yaml", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "succeeded"
    assert result["output"] == {"image": "web:latest", "deployed": True}
    assert [t["name"] for t in result["tasks"]] == ["build", "unit_tests", "lint", "deploy", "smoke_test"]


# --- the HTTP example against a local server ------------------------------------------------------


class TicketAPI(BaseHTTPRequestHandler):
    """POST /tickets (503 on the first call), POST /tickets/{id}/comments, GET /tickets/{id}."""

    calls: list[tuple[str, str, Any]] = []
    tickets: dict[int, dict[str, Any]] = {}
    fail_first_create = True
    reject_all = False

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self._body()
        cls = type(self)
        cls.calls.append(("POST", self.path, body))
        if self.headers.get("Authorization") != "Bearer example-token":
            return self._reply(401, {"error": "no token"})
        if cls.reject_all:
            return self._reply(422, {"error": "title too long"})
        if self.path == "/tickets":
            if cls.fail_first_create:
                cls.fail_first_create = False
                return self._reply(503, {"error": "try again"})
            ticket_id = 100 + len(cls.tickets)
            cls.tickets[ticket_id] = {"id": ticket_id, "title": body["title"], "status": "open", "comments": 0}
            return self._reply(201, cls.tickets[ticket_id])
        match = re.fullmatch(r"/tickets/(\d+)/comments", self.path)
        if match and int(match.group(1)) in cls.tickets:
            cls.tickets[int(match.group(1))]["comments"] += 1
            return self._reply(201, {"id": 1, "text": body["text"]})
        self._reply(404, {"error": "no such ticket"})

    def do_GET(self) -> None:  # noqa: N802
        cls = type(self)
        cls.calls.append(("GET", self.path, None))
        match = re.fullmatch(r"/tickets/(\d+)", self.path)
        if match and int(match.group(1)) in cls.tickets:
            return self._reply(200, cls.tickets[int(match.group(1))])
        self._reply(404, {"error": "no such ticket"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ticket_api() -> Iterator[tuple[str, type[TicketAPI]]]:
    handler = type("Handler", (TicketAPI,), {"calls": [], "tickets": {}, "fail_first_create": True,
                                             "reject_all": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_http_example_against_a_local_server(ticket_api: tuple[str, type[TicketAPI]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    url, api = ticket_api
    code, result = run_json(capsys, str(EXAMPLES / "http_integration.yaml"), "--backend", "memory",
                            "--input", json.dumps({"base_url": url}))
    assert code == 0, result["error"]
    assert result["output"] == {"ticket_id": 100, "status": "open", "comments": 1}
    attempts = {t["name"]: t["attempts"] for t in result["tasks"]}
    assert attempts == {"open_ticket": 2, "comment": 1, "read_back": 1}
    assert [(m, p) for m, p, _ in api.calls] == [
        ("POST", "/tickets"), ("POST", "/tickets"), ("POST", "/tickets/100/comments"), ("GET", "/tickets/100")]
    assert api.calls[0][2] == {"title": "Disk full on checkout-db-1", "priority": "high"}
    assert api.calls[2][2]["text"].startswith("opened by relayflow execution ")


def test_http_example_reports_a_client_error_without_retrying(ticket_api: tuple[str, type[TicketAPI]],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    url, api = ticket_api
    api.fail_first_create = False
    api.reject_all = True
    code, result = run_json(capsys, str(EXAMPLES / "http_integration.yaml"), "--backend", "memory",
                            "--input", json.dumps({"base_url": url}))
    assert code == 0
    assert [(t["name"], t["status"], t["attempts"]) for t in result["tasks"]] == [
        ("open_ticket", "failed", 1), ("report_failure", "succeeded", 1)]
    failed = result["tasks"][0]
    assert failed["error"]["type"] == "HttpError" and "HTTP 422" in failed["error"]["message"]
    assert failed["result"]["body"] == {"error": "title too long"}
    assert len(api.calls) == 1


def test_http_example_as_a_relayflow_test_against_the_local_server(
        ticket_api: tuple[str, type[TicketAPI]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A test file can leave core.http unmocked: it then talks to the server for real."""
    url, _ = ticket_api
    test_file = tmp_path / "http_live_test.yaml"
    test_file.write_text(
        f"workflow: {EXAMPLES / 'http_integration.yaml'}\n"
        "cases:\n"
        "  - name: live\n"
        f"    input: {{base_url: \"{url}\"}}\n"
        "    expect:\n"
        "      output: {ticket_id: 100, status: open, comments: 1}\n"
        "      attempts: {open_ticket: 2}\n"
        "      elapsed: 1\n", encoding="utf-8")
    code = cli.main(["test", str(test_file)])
    out, _ = capsys.readouterr()
    assert code == 0, out


# --- the docs: every workflow example validates, every test-file example passes ---------------------

DOCS = ROOT / "docs"
BLOCK = re.compile(r"^```yaml (workflow|relayflow-test|fragment)\n(.*?)^```", re.S | re.M)


def doc_blocks(kind: str) -> list[tuple[str, int, str]]:
    found = []
    for doc in sorted(DOCS.glob("*.md")):
        text = doc.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            if match.group(1) == kind:
                found.append((doc.name, text[:match.start()].count("\n") + 2, match.group(2)))
    return found


def test_the_docs_pages_exist() -> None:
    assert {p.name for p in DOCS.glob("*.md")} >= {
        "language.md", "testing.md", "deployment.md", "operations.md", "api.md", "architecture.md", "migration.md"}


@pytest.mark.parametrize("doc, line, text", doc_blocks("workflow"), ids=lambda v: str(v)[:40])
def test_every_workflow_example_in_the_docs_validates_cleanly(doc: str, line: int, text: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{doc}-{line}.yaml"
    path.write_text(text, encoding="utf-8")
    # The python: example names examples/etl_actions.py: declare it, as a deployment would.
    code = cli.main(["validate", "--action-module", "etl_actions", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", f"docs/{doc}:{line}:\n{err}"


def test_the_language_guide_shows_every_field_and_every_built_in_action() -> None:
    from relayflow.core import loader
    docs = [yaml.safe_load(text) for doc, _, text in doc_blocks("workflow") if doc == "language.md"]
    assert len(docs) >= 20
    workflow_fields = set().union(*(d.keys() for d in docs))
    tasks = [t for d in docs for t in (d["tasks"].values() if isinstance(d["tasks"], dict) else d["tasks"])]
    task_fields = set().union(*(t.keys() for t in tasks))
    retry_fields = set().union(*(t["retry"].keys() for t in tasks if isinstance(t.get("retry"), dict)))
    actions = {t.get("action", "").split(":")[0] for t in tasks}
    assert workflow_fields >= loader.WORKFLOW_FIELDS
    assert task_fields >= loader.TASK_FIELDS
    assert retry_fields >= loader.RETRY_FIELDS
    assert actions >= {"core.noop", "core.echo", "core.fail", "core.sleep", "core.http", "core.ask", "python"}
    assert any("decision" in t and any(b.get("default") for b in t["decision"]) for t in tasks)
    assert {t.get("join") for t in tasks} >= {"all", 1}


def test_the_language_guide_shows_do_noop_and_do_fail_and_templated_defaults_and_vars() -> None:
    from relayflow.core.loader import load_text
    specs = [load_text(text) for doc, _, text in doc_blocks("workflow") if doc == "language.md"]
    commands = {c for spec in specs for task in spec.tasks.values() for tr in task.next for c in tr.commands}
    assert commands == {"noop", "fail"}
    assert any("{{" in str(p.default) for spec in specs for p in spec.inputs if p.has_default)
    assert any("vars." in str(v) for spec in specs for v in spec.vars.values())


@pytest.mark.parametrize("doc, line, text", doc_blocks("relayflow-test"), ids=lambda v: str(v)[:40])
def test_every_test_file_example_in_the_docs_passes(doc: str, line: int, text: str, tmp_path: Path) -> None:
    data = yaml.safe_load(text)
    data["workflow"] = str((DOCS / data["workflow"]).resolve())
    path = tmp_path / "doc_test.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    report = testing.run_files([str(path)])
    assert report.bad_files == [] and report.results
    assert [r.name for r in report.failed] == [], f"docs/{doc}:{line}"


def test_the_mock_fragments_in_the_testing_guide_are_valid_mocks(tmp_path: Path) -> None:
    tasks = """
        name: demo.fragments
        tasks:
          - {name: deploy, action: core.noop, on_success: [flaky, check, poll, load, checks, approve]}
          - {name: flaky, action: core.noop}
          - {name: check, action: core.noop}
          - {name: poll, action: core.noop}
          - {name: load, action: core.noop, with_items: [1, 2]}
          - {name: checks, tasks: [{name: lint, action: core.noop}]}
          - {name: approve, action: core.ask, input: {prompt: ok?}}
        """
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(tasks), encoding="utf-8")
    checked = 0
    for doc, line, text in doc_blocks("fragment"):
        fragment = yaml.safe_load(text)
        if "mocks" not in fragment:
            continue
        case = {"name": f"{doc}:{line}", "mocks": fragment["mocks"], "expect": {}}
        path = tmp_path / "t.yaml"
        path.write_text(yaml.safe_dump({"workflow": "wf.yaml", "cases": [case]}), encoding="utf-8")
        tf = testing.load_test_file(str(path))  # raises TestFileError on a bad mock
        assert set(tf.cases[0].mocks) == set(fragment["mocks"])
        checked += 1
    assert checked >= 1
