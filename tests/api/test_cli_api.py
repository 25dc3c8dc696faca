"""The CLI against the API: `relayflow serve`, start, status, watch, pause, resume, cancel, redrive,
respond, history and graph --execution; SigV4 signing for deployed (non-loopback) APIs."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relayflow import cli
from relayflow.client import Client, is_loopback

from .cli_run import run

SCRIPT = Path(sys.executable).with_name("relayflow")

APPROVAL = """\
name: c.approval
input:
  env: {type: string, default: staging}
tasks:
  - {name: build, action: core.echo, input: {env: "{{ input.env }}"}, on_success: approve}
  - name: approve
    action: core.ask
    input:
      prompt: "Deploy to {{ input.env }}?"
      schema: {type: object, properties: {ok: {type: boolean}}, required: [ok]}
    on_success: deploy
  - {name: deploy, action: core.echo, input: {done: true}}
"""

REDRIVE = """\
name: c.redrive
tasks:
  - {name: a, action: core.echo, input: {n: 1}, on_success: b}
  - {name: b, action: "python:tests.api.test_cli_api:flaky"}
"""

FLAKY = {"fail": True}


def flaky(payload):
    if FLAKY["fail"]:
        raise RuntimeError("not yet")
    return {"ok": True}


@pytest.fixture
def served(api):
    api.register(APPROVAL)
    api.register(REDRIVE)
    return api


def start(capsys, api, *extra):
    code, out, err = run(capsys, "start", "c.approval", "--api", api.url, *extra)
    assert code == 0, err
    return out.strip()


def test_start_status_and_idempotency_key(served, capsys):
    api = served
    eid = start(capsys, api, "--input", '{"env": "prod"}')
    assert len(eid) == 32
    again = start(capsys, api, "--input", '{"env": "prod"}', "--idempotency-key", "rel-1")
    assert start(capsys, api, "--input", '{"env": "prod"}', "--idempotency-key", "rel-1") == again != eid
    api.settle()
    code, out, _ = run(capsys, "status", eid, "--api", api.url, "--json")
    assert code == 0 and json.loads(out) == api.execution(eid)
    assert list(json.loads(out)) == list(cli.RESULT_KEYS)
    code, out, _ = run(capsys, "status", eid, "--api", api.url)
    head, build, approve = out.splitlines()[:3]
    assert head == f"workflow c.approval running (execution {eid})"
    assert re.fullmatch(r"  build \(run 1\) succeeded, 1 attempt, took \d+\.\ds", build), build  # ended: how long
    assert approve == "  approve (run 1) running, 1 attempt"


def test_start_errors_exit_2_and_name_every_problem(served, capsys):
    code, _, err = run(capsys, "start", "c.approval", "--api", served.url, "--input", '{"env": 5, "x": 1}')
    assert code == 2
    assert "400" in err and "env" in err and "x" in err
    code, _, err = run(capsys, "start", "nope", "--api", served.url)
    assert code == 2 and "404" in err and "no workflow 'nope'" in err
    code, _, err = run(capsys, "status", "nope", "--api", served.url)
    assert code == 2 and "no execution 'nope'" in err


def test_an_api_that_does_not_answer_is_a_clear_error(capsys):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]
    code, _, err = run(capsys, "status", "x", "--api", f"http://127.0.0.1:{port}")
    assert code == 2 and "cannot reach the API" in err


def test_respond_lists_pending_then_answers(served, capsys):
    api = served
    eid = start(capsys, api)
    api.settle()
    (inquiry,) = api.pending(eid)
    code, out, _ = run(capsys, "respond", "--api", api.url)
    assert code == 0 and out.split() == [inquiry["id"], "c.approval", "approve", "Deploy", "to", "staging?"]
    code, _, err = run(capsys, "respond", inquiry["id"], "--api", api.url, "--response", '{"ok": "y"}')
    assert code == 2 and "schema" in err
    code, _, err = run(capsys, "respond", inquiry["id"], "--api", api.url)
    assert code == 2 and "--response" in err
    code, out, _ = run(capsys, "respond", inquiry["id"], "--api", api.url, "--response", '{"ok": true}')
    assert code == 0 and out.strip() == f"inquiry {inquiry['id']} answered"
    api.settle()
    assert api.execution(eid)["status"] == "succeeded"
    code, out, _ = run(capsys, "respond", "--api", api.url)
    assert out.strip() == "no pending inquiries"


def test_pause_resume_cancel_and_redrive(served, capsys):
    api = served
    eid = start(capsys, api)
    api.settle()
    for action, status in (("pause", "paused"), ("resume", "running"), ("cancel", "cancelled")):
        code, out, _ = run(capsys, action, eid, "--api", api.url, *(["--reason", "test"] if action != "resume" else []))
        assert (code, out.strip()) == (0, f"{action} requested for execution {eid}")
        api.settle()
        assert api.execution(eid)["status"] == status
    code, _, err = run(capsys, "pause", eid, "--api", api.url)
    assert code == 2 and "409" in err
    FLAKY["fail"] = True
    r = api.post("/workflows/c.redrive/executions")
    api.settle()
    failed = r.body["execution_id"]
    assert api.execution(failed)["status"] == "failed"
    FLAKY["fail"] = False
    code, out, _ = run(capsys, "redrive", failed, "--api", api.url)
    assert (code, out.strip()) == (0, f"redrive requested for execution {failed}")
    api.settle()
    assert [(t["name"], t["run"], t["status"]) for t in api.execution(failed)["tasks"]] == [
        ("a", 1, "succeeded"), ("b", 1, "failed"), ("b", 2, "succeeded")]


def test_history_and_graph_of_an_execution(served, capsys):
    api = served
    eid = start(capsys, api)
    api.settle()
    code, out, _ = run(capsys, "history", eid, "--api", api.url)
    assert code == 0
    assert [line.split()[1:3] for line in out.splitlines()][:4] == [
        ["workflow.started"], ["task.started", "build"], ["task.succeeded", "build"], ["task.started", "approve"]]
    code, out, _ = run(capsys, "history", eid, "--api", api.url, "--json")
    assert json.loads(out) == api.get(f"/executions/{eid}/history").body
    code, out, _ = run(capsys, "graph", "--execution", eid, "--api", api.url)
    assert code == 0 and out.startswith("flowchart TD\n")
    assert 't0["build<br/><small>core.echo</small><br/>succeeded"]' in out
    assert 't1["approve<br/><small>core.ask</small><br/>running"]' in out
    assert 't2["deploy<br/><small>core.echo</small>"]' in out  # not started: no status
    assert "style t0 fill:#c8f7c5" in out and "style t1 fill:#c5daf7" in out
    assert run(capsys, "graph", "--api", api.url)[0] == 2
    assert run(capsys, "graph", "x.yaml", "--execution", eid)[0] == 2
    code, out, _ = run(capsys, "graph", "--execution", eid, "--format", "dot", "--api", api.url)
    assert code == 0 and out.startswith('digraph "')
    assert '"build" [label="build\\ncore.echo\\nsucceeded", fillcolor="#c8f7c5"];' in out
    assert '"approve" [label="approve\\ncore.ask\\nrunning", fillcolor="#c5daf7"];' in out
    assert '"build" -> "approve"' in out


def test_watch_follows_an_execution_until_it_ends(served, capsys):
    api = served
    eid = start(capsys, api)
    proc = subprocess.Popen([str(SCRIPT), "watch", eid, "--api", api.url, "--interval", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stdout:  # until it shows the approval waiting
            lines.append(line.rstrip("\n"))
            if "waits for an answer" in line:
                break
        (inquiry,) = api.pending(eid)
        assert lines[-1] == (f"  approve waits for an answer (Deploy to staging?): "
                             f"relayflow respond {inquiry['id']} --response JSON")
        assert run(capsys, "respond", inquiry["id"], "--api", api.url, "--response", '{"ok": true}')[0] == 0
        rest, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    lines += rest.splitlines()
    assert proc.returncode == 0, err
    assert lines[0] == f"c.approval running (execution {eid})"
    assert lines[-1] == f"c.approval succeeded (execution {eid})"
    assert "  approve (run 1) running, 1 attempt" in lines, lines
    for expected in ("  build (run 1) succeeded, 1 attempt", "  approve (run 1) succeeded, 1 attempt",
                     "  deploy (run 1) succeeded, 1 attempt"):
        assert any(re.fullmatch(re.escape(expected) + r", took \d+\.\ds", line) for line in lines), (expected, lines)
    # watching an execution that has ended prints it and exits with run's status codes
    proc = subprocess.run([str(SCRIPT), "watch", eid, "--api", api.url, "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout) == api.execution(eid)


def test_relayflow_serve_end_to_end(tmp_path):
    """A new user: serve a folder, register a workflow with plain HTTP, start it, approve, see it finish."""
    (tmp_path / "approval.yaml").write_text(APPROVAL)
    (tmp_path / "broken.yaml").write_text("name: c.broken\ntasks: 5\n")
    proc = subprocess.Popen([str(SCRIPT), "serve", "--backend", "memory", "--port", "0", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        assert banner.startswith("relayflow API on http://127.0.0.1:"), (banner, proc.stderr.read())
        url = banner.split()[3]

        def call(method, path, body=None):
            data = body.encode() if isinstance(body, str) else (json.dumps(body).encode() if body else None)
            ctype = {"Content-Type": "application/yaml" if isinstance(body, str) else "application/json"}
            req = urllib.request.Request(url + path, data=data, method=method,
                                         headers=ctype if method != "GET" else {})
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())

        assert call("GET", "/workflows")[1]["workflows"][0]["name"] == "c.approval"
        assert call("PUT", "/workflows/c.other", APPROVAL.replace("c.approval", "c.other"))[0] == 200
        status, body = call("POST", "/workflows/c.other/executions", {"input": {"env": "prod"}})
        assert status == 201
        eid = body["execution_id"]
        env = {**os.environ, "RELAYFLOW_API": url}
        watch = subprocess.Popen([str(SCRIPT), "watch", eid, "--interval", "0.05"], stdout=subprocess.PIPE,
                                 text=True, env=env)
        for line in watch.stdout:
            if "waits for an answer" in line:
                break
        (inquiry,) = call("GET", "/inquiries?status=pending")[1]["inquiries"]
        assert call("POST", f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True}})[0] == 200
        rest, _ = watch.communicate(timeout=120)
        assert watch.returncode == 0 and rest.splitlines()[-1] == f"c.other succeeded (execution {eid})"
        assert call("GET", f"/executions/{eid}")[1]["status"] == "succeeded"
        with urllib.request.urlopen(f"{url}/ui/executions/{eid}", timeout=60) as resp:
            assert resp.status == 200 and b"<svg" in resp.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert "registered c.approval (3 tasks)" in err and "note:" in err and "broken.yaml" in err


def test_serve_on_a_busy_port_is_a_usage_error(capsys):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as busy:
        code, _, err = run(capsys, "serve", "--backend", "memory", "--port", str(busy.server_address[1]))
    assert code == 2 and "cannot listen" in err


# -- SigV4 ----------------------------------------------------------------------------------------
class Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Recorder.seen.append((self.command, self.path, dict(self.headers.items()), body))
        data = b'{"execution_id": "e1", "workflow": "w", "created": true}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_loopback_urls_are_not_signed_and_deployed_ones_are():
    assert is_loopback("http://127.0.0.1:8080") and is_loopback("http://localhost:1") and is_loopback("http://[::1]:8")
    assert not is_loopback("https://abc123.execute-api.eu-west-1.amazonaws.com/prod")
    deployed = Client("https://abc123.execute-api.eu-west-1.amazonaws.com/prod")
    assert deployed.sign and deployed.region == "eu-west-1"
    assert not Client("http://127.0.0.1:8080").sign


def test_a_signed_request_carries_a_valid_sigv4_signature(monkeypatch):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    Recorder.seen = []
    with ThreadingHTTPServer(("127.0.0.1", 0), Recorder) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = Client(f"http://127.0.0.1:{server.server_address[1]}/prod", region="eu-west-1")
        client.sign = True  # as for a deployed API: this server only records what arrives
        assert client.start("w", {"n": 1}, idempotency_key="k1")["execution_id"] == "e1"
        server.shutdown()
    ((method, path, headers, body),) = Recorder.seen
    auth = headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in auth
    assert "idempotency-key" in auth.split("SignedHeaders=")[1]
    # recompute the signature from what arrived: it matches, and it covers the body
    signed = [h.lower() for h in auth.split("SignedHeaders=")[1].split(",")[0].split(";")]
    kept = {k: v for k, v in headers.items() if k.lower() in signed}

    def signature(data: bytes) -> str:
        req = AWSRequest(method=method, url=f"http://{headers['Host']}{path}", data=data, headers=kept)
        req.context["timestamp"] = headers["X-Amz-Date"]
        auth_ = SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "execute-api", "eu-west-1")
        auth_._modify_request_before_signing = lambda r: None  # keep the headers as they arrived
        canonical = auth_.canonical_request(req)
        return auth_.signature(auth_.string_to_sign(req, canonical), req)

    assert auth.endswith("Signature=" + signature(body))
    assert not auth.endswith("Signature=" + signature(body + b" "))


def test_cost_of_an_execution(served, capsys):
    api = served
    eid = start(capsys, api)
    api.settle()
    assert "cost" not in api.execution(eid)  # the plain view stays exactly run --json's keys
    code, out, _ = run(capsys, "cost", eid, "--api", api.url, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["execution_id"] == eid and report["estimate"] is True
    # a start, the build task's dispatch and outcome, the approval's step: several writes, sends and invocations
    assert report["requests"]["dynamodb"]["write requests"] >= 3
    assert report["requests"]["sqs"]["requests"] >= 3
    assert report["requests"]["lambda"]["invocations"] >= 3
    assert report["total_dollars"] == pytest.approx(sum(report["dollars"].values()))
    assert 0 < report["total_dollars"] < 0.001
    assert api.get(f"/executions/{eid}?include=cost").body["cost"] == {
        k: report[k] for k in ("requests", "dollars", "total_dollars", "estimate")}
    code, out, _ = run(capsys, "cost", eid, "--api", api.url)
    lines = out.splitlines()
    assert lines[0] == f"c.approval running (execution {eid}): AWS requests so far, estimated at us-east-1 list prices"
    assert any(line.split()[0] == "dynamodb" and "write requests" in line for line in lines[1:])
    assert lines[-1].split()[0] == "total"
    code, _, err = run(capsys, "cost", "nope", "--api", api.url)
    assert code == 2 and "no execution 'nope'" in err
