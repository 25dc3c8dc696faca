"""Every endpoint's success and error paths, over real HTTP against `relayflow serve`'s server.

These run on the memory backend (fast); tests/api/test_flows.py runs the
end-to-end flows on both backends.
"""
from __future__ import annotations

import http.client
import json
import textwrap

import pytest

from relayflow import cli
from relayflow.api import document as api_spec

SIMPLE = """\
name: t.simple
input:
  who: {type: string, required: true}
  times: {type: integer, default: 1}
tasks:
  - name: greet
    action: core.echo
    input: {msg: "hi {{ input.who }}", times: "{{ input.times }}"}
    on_success: done
  - {name: done, action: core.noop}
output:
  msg: "{{ task.greet.result.msg }}"
"""

ASK = """\
name: t.ask
tasks:
  - name: approve
    action: core.ask
    input:
      prompt: "Ship it?"
      schema: {type: object, properties: {ok: {type: boolean}}, required: [ok]}
    on_success: after
  - {name: after, action: core.echo, input: {answer: "{{ task.approve.result.ok }}"}}
"""

FAILING = """\
name: t.failing
tasks:
  - {name: boom, action: core.fail, input: {message: disk full}}
"""

CALLBACK = """\
name: t.callback
tasks:
  - name: hand_off
    action: core.noop
    callback: true
    timeout: 600
    on_success: done
    on_failure: recover
  - {name: done, action: core.noop}
  - {name: recover, action: core.noop}
"""


def error_of(r, status: int) -> dict:
    assert r.status == status, (r.status, r.body)
    assert r.headers["Content-Type"].startswith("application/json")
    assert set(r.body) <= {"type", "message", "details"} and r.body["message"], r.body
    return r.body


def started(api, text: str, input=None) -> str:
    api.register(text)
    eid = api.start(text.split("\n", 1)[0].split(":", 1)[1].strip(), input)
    api.settle()
    return eid


# -- /openapi.json ---------------------------------------------------------------------
def test_openapi_document_lists_every_operation(api):
    r = api.get("/openapi.json")
    assert r.status == 200
    assert r.body["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in r.body["paths"].items() for m in item}
    assert ops == set(api_spec.routes())
    assert {("PUT", "/workflows/{name}"), ("GET", "/workflows"), ("GET", "/workflows/{name}"),
            ("POST", "/workflows/{name}/executions"), ("GET", "/executions"), ("GET", "/executions/{id}"),
            ("GET", "/executions/{id}/history"), ("POST", "/executions/{id}/pause"),
            ("POST", "/executions/{id}/resume"), ("POST", "/executions/{id}/cancel"),
            ("POST", "/executions/{id}/redrive"), ("GET", "/inquiries"), ("POST", "/inquiries/{id}/respond"),
            ("POST", "/callbacks/{token}/succeed"), ("POST", "/callbacks/{token}/fail")} <= ops
    assert len({op["operationId"] for item in r.body["paths"].values() for op in item.values()}) == len(ops)


def test_openapi_document_is_valid_openapi_3_1():
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(api_spec.document())


def test_unknown_route_is_404_and_wrong_method_is_405_with_allow(api):
    assert error_of(api.get("/nothing/here"), 404)["type"] == "NotFound"
    r = api.call("DELETE", "/workflows/x")
    assert error_of(r, 405)["type"] == "MethodNotAllowed"
    assert r.headers["Allow"] == "GET, PUT"
    assert error_of(api.call("PATCH", "/executions"), 405)
    assert error_of(api.call("BREW", "/openapi.json"), 405)


# -- workflows ---------------------------------------------------------------------------
def test_register_list_and_get_a_workflow_with_its_versions(api):
    first = api.register(SIMPLE)
    assert first == {"name": "t.simple", "version": first["version"], "tasks": 2, "warnings": []}
    second = api.register(SIMPLE.replace("hi ", "hello "))
    assert second["version"] != first["version"]
    listed = api.get("/workflows").body["workflows"]
    assert listed == [{"name": "t.simple", "version": second["version"], "tasks": 2}]
    wf = api.get("/workflows/t.simple").body
    assert (wf["version"], wf["latest"]) == (second["version"], second["version"])
    assert sorted(wf["versions"]) == sorted([first["version"], second["version"]])
    assert [t["name"] for t in wf["tasks"]] == ["greet", "done"]
    assert wf["edges"] == [{"from": "greet", "to": "done", "label": "on_success"}]
    old = api.get(f"/workflows/t.simple?version={first['version']}").body
    assert "hi " in old["text"] and old["version"] == first["version"]


def test_an_invalid_workflow_is_400_listing_every_problem_with_its_line(api):
    text = textwrap.dedent("""\
        name: t.bad
        tasks:
          - name: a
            action: core.echo
            on_sucess: b
          - name: b
            action: core.echo
            retry: {count: many}
    """)
    body = error_of(api.put("/workflows/t.bad", text), 400)
    problems = body["details"]
    assert len([p for p in problems if p["severity"] == "error"]) >= 2
    assert {p["line"] for p in problems} >= {5, 8}
    assert any("on_success" in p["message"] for p in problems)
    assert all(p["text"].startswith("t.bad.yaml:") for p in problems)
    assert error_of(api.get("/workflows/t.bad"), 404)


@pytest.mark.parametrize("path, text, status, fragment", [
    ("/workflows/other", SIMPLE, 400, "not 'other'"),
    ("/workflows/t.simple", "", 400, "YAML"),
    ("/workflows/t.simple", "   \n", 400, "YAML"),
    ("/workflows/t.simple", "[1, 2", 400, "invalid"),
    ("/workflows/t.simple", "just a string", 400, "invalid"),
    ("/workflows/bad%20name", SIMPLE, 400, "does not match"),
    ("/workflows/" + "n" * 201, SIMPLE, 400, "at most 200"),
])
def test_register_errors(api, path, text, status, fragment):
    assert fragment in json.dumps(error_of(api.put(path, text), status))


def test_register_refuses_non_utf8_and_oversized_bodies(api):
    assert error_of(api.call("PUT", "/workflows/t.simple", raw=b"name: \xff\xfe\n"), 415)
    huge = SIMPLE + "# " + "x" * 400_000 + "\n"
    assert "too large" in error_of(api.put("/workflows/t.simple", huge), 413)["message"]
    assert error_of(api.call("PUT", "/workflows/t.simple", raw=b"x" * (api_spec.MAX_BODY + 1)), 413)


def test_get_unknown_workflow_or_version_is_404(api):
    assert error_of(api.get("/workflows/nope"), 404)
    api.register(SIMPLE)
    assert "version" in error_of(api.get("/workflows/t.simple?version=0000"), 404)["message"]


# -- starting --------------------------------------------------------------------------------
def test_start_returns_201_and_the_execution_matches_relayflow_run_json(api, tmp_path, capsys):
    api.register(SIMPLE)
    r = api.post("/workflows/t.simple/executions", {"input": {"who": "ana", "times": 2}})
    assert r.status == 201 and r.body["created"] is True and r.body["workflow"] == "t.simple"
    api.settle()
    over_http = api.execution(r.body["execution_id"])
    path = tmp_path / "simple.yaml"
    path.write_text(SIMPLE)
    assert cli.main(["run", str(path), "--json", "--backend", "memory", "--input",
                     '{"who": "ana", "times": 2}']) == 0
    by_cli = json.loads(capsys.readouterr().out)
    assert list(over_http) == list(by_cli) == list(cli.RESULT_KEYS)
    # the API's task runs carry their timings besides run --json's keys
    for task in over_http["tasks"]:
        assert list(task) == list(cli.TASK_RUN_KEYS) + list(cli.TIMING_KEYS)
        assert task["started_at"] <= task["finished_at"]
        assert task["duration"] == round(task["finished_at"] - task["started_at"], 6)
        (only,) = task["attempt_timings"]
        assert only["attempt"] == 1 and only["status"] == "succeeded"
        assert task["started_at"] <= only["started_at"] <= only["finished_at"] <= task["finished_at"]
    assert {**cli.contract_result(over_http), "execution_id": None} == {**by_cli, "execution_id": None}
    assert over_http["output"] == {"msg": "hi ana"}


@pytest.mark.parametrize("body, fragments", [
    ({"input": {}}, ["who", "required"]),
    ({"input": {"who": 3, "times": "x"}}, ["who", "times"]),
    ({"input": [1]}, ["body.input: expected object"]),
    ({"input": {"who": "a"}, "extra": 1}, ["body.extra: unknown field"]),
    ({"input": {"who": "a"}, "version": 7}, ["body.version: expected string"]),
    ("just a string", ["body: expected object"]),
])
def test_start_with_bad_input_is_400_naming_every_problem(api, body, fragments):
    api.register(SIMPLE)
    err = error_of(api.post("/workflows/t.simple/executions", body), 400)
    text = json.dumps(err)
    for fragment in fragments:
        assert fragment in text, text
    assert api.get("/executions").body["executions"] == []  # nothing was started


def test_start_errors_for_bodies_that_are_not_json(api):
    api.register(SIMPLE)
    for raw in ("{", "{'input': {}}", "NaN", '{"input": {"who": "a", "n": 1e999}}', "[" * 5000 + "]" * 5000):
        err = error_of(api.call("POST", "/workflows/t.simple/executions", raw=raw), 400)
        assert err["details"], raw
    deep = {"who": "a"}
    for _ in range(100):
        deep = {"x": deep}
    assert "nested deeper" in json.dumps(error_of(api.post("/workflows/t.simple/executions", {"input": deep}), 400))
    lone = '{"input": {"who": "\\ud800"}}'
    assert "surrogate" in json.dumps(error_of(api.call("POST", "/workflows/t.simple/executions", raw=lone), 400))


def test_start_of_an_unknown_workflow_or_version_is_404(api):
    assert error_of(api.post("/workflows/nope/executions", {"input": {}}), 404)
    api.register(SIMPLE)
    assert error_of(api.post("/workflows/t.simple/executions", {"input": {"who": "a"}, "version": "0000"}), 404)


def test_idempotency_key_returns_the_same_execution(api):
    api.register(SIMPLE)
    key = {"Idempotency-Key": "order-42"}
    first = api.post("/workflows/t.simple/executions", {"input": {"who": "a"}}, headers=key)
    again = api.post("/workflows/t.simple/executions", {"input": {"who": "a"}}, headers=key)
    assert (first.status, again.status) == (201, 200)
    assert first.body["execution_id"] == again.body["execution_id"] and again.body["created"] is False
    # defaults applied: the same input spelled out in full is the same request
    full = api.post("/workflows/t.simple/executions", {"input": {"who": "a", "times": 1}}, headers=key)
    assert full.status == 200 and full.body["execution_id"] == first.body["execution_id"]
    other = api.post("/workflows/t.simple/executions", {"input": {"who": "b"}}, headers=key)
    assert error_of(other, 409)["details"] == {"execution_id": first.body["execution_id"]}
    new = api.post("/workflows/t.simple/executions", {"input": {"who": "a"}}, headers={"Idempotency-Key": "order-43"})
    assert new.status == 201 and new.body["execution_id"] != first.body["execution_id"]
    api.settle()
    assert len(api.get("/executions?workflow=t.simple").body["executions"]) == 2
    assert error_of(api.post("/workflows/t.simple/executions", {"input": {"who": "a"}},
                             headers={"Idempotency-Key": "k" * 256}), 400)


# -- reading executions ----------------------------------------------------------------------------
def test_list_executions_filters_and_pages(api):
    api.register(SIMPLE)
    api.register(FAILING)
    ok = [api.start("t.simple", {"who": str(i)}) for i in range(5)]
    bad = [api.start("t.failing") for _ in range(2)]
    api.settle()
    seen, token, pages = [], None, 0
    while True:
        r = api.get("/executions?workflow=t.simple&limit=2" + (f"&next={token}" if token else ""))
        assert r.status == 200 and len(r.body["executions"]) <= 2
        seen += [e["execution_id"] for e in r.body["executions"]]
        pages += 1
        token = r.body["next"]
        if token is None:
            break
    assert sorted(seen) == sorted(ok) and pages == 3
    assert seen == sorted(seen, key=ok.index, reverse=True)  # newest first
    failed = api.get("/executions?status=failed").body
    assert sorted(e["execution_id"] for e in failed["executions"]) == sorted(bad)
    assert {e["status"] for e in failed["executions"]} == {"failed"}
    everything, token = [], None
    while True:
        r = api.get("/executions?limit=3" + (f"&next={token}" if token else "")).body
        everything += [e["execution_id"] for e in r["executions"]]
        token = r["next"]
        if token is None:
            break
    assert sorted(everything) == sorted(ok + bad)
    summary = api.get("/executions?workflow=t.failing&limit=1").body["executions"][0]
    assert set(summary) == {"execution_id", "workflow", "status", "created_at", "finished_at", "error"}
    assert summary["error"]["message"]


@pytest.mark.parametrize("query, fragment", [
    ("status=done", "must be one of"),
    ("limit=0", "at least 1"),
    ("limit=101", "at most 100"),
    ("limit=ten", "expected an integer"),
    ("limit=1&limit=2", "given 2 times"),
    ("next=garbage", "not a token"),
    ("workflow=a%20b", "does not match"),
    ("colour=red", "unknown"),
])
def test_list_executions_errors(api, query, fragment):
    assert fragment in json.dumps(error_of(api.get(f"/executions?{query}"), 400))


def test_a_next_token_only_fits_its_own_listing(api):
    api.register(SIMPLE)
    for i in range(3):
        api.start("t.simple", {"who": str(i)})
    token = api.get("/executions?workflow=t.simple&limit=1").body["next"]
    assert token
    assert "other parameters" in error_of(api.get(f"/executions?workflow=t.simple&status=failed&next={token}"),
                                          400)["message"]
    assert error_of(api.get(f"/executions?next={token}"), 400)


def test_unknown_execution_is_404_everywhere(api):
    for path in ("/executions/nope", "/executions/nope/history", "/executions/nope/graph", "/ui/executions/nope"):
        assert error_of(api.get(path), 404)["type"] == "NotFound", path
    for action in ("pause", "resume", "cancel", "redrive"):
        assert error_of(api.post(f"/executions/nope/{action}"), 404)


def test_history_lists_every_lifecycle_event_in_order(api):
    eid = started(api, SIMPLE, {"who": "a"})
    events = api.get(f"/executions/{eid}/history").body["events"]
    assert [(e["type"], e.get("task")) for e in events] == [
        ("workflow.started", None), ("task.started", "greet"), ("task.succeeded", "greet"),
        ("task.started", "done"), ("task.succeeded", "done"), ("workflow.succeeded", None)]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def test_graph_shows_every_task_with_status_runs_and_attempts(api):
    eid = started(api, ASK)
    view = api.get(f"/executions/{eid}/graph").body
    assert view["status"] == "running"
    assert [(t["name"], t["status"], len(t["runs"]), t["attempts"]) for t in view["tasks"]] == [
        ("approve", "running", 1, 1), ("after", "not_started", 0, 0)]
    assert view["edges"] == [{"from": "approve", "to": "after", "label": "on_success"}]
    assert [i["task"] for i in view["inquiries"]] == ["approve"]
    assert "approve<br/><small>core.ask</small><br/>running" in view["mermaid"]


def test_the_graph_page_is_html_without_outside_resources(api):
    eid = started(api, SIMPLE, {"who": "a"})
    r = api.get(f"/ui/executions/{eid}")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<svg" in r.body and "/graph" in r.body
    assert "http://" not in r.body.replace("http://www.w3.org/2000/svg", "") and "https://" not in r.body


# -- control -------------------------------------------------------------------------------------------
def test_pause_resume_cancel_answer_202_then_apply(api):
    eid = started(api, ASK)
    r = api.post(f"/executions/{eid}/pause", {"reason": "maintenance"})
    assert (r.status, r.body) == (202, {"execution_id": eid, "requested": "pause"})
    api.settle()
    assert api.execution(eid)["status"] == "paused"
    assert api.post(f"/executions/{eid}/resume").status == 202
    api.settle()
    assert api.execution(eid)["status"] == "running"
    assert api.post(f"/executions/{eid}/cancel").status == 202
    api.settle()
    assert api.execution(eid)["status"] == "cancelled"
    assert "already ended" in error_of(api.post(f"/executions/{eid}/pause"), 409)["message"]


@pytest.mark.parametrize("body", [{"reason": 5}, {"why": "x"}, ["x"], {"reason": "x" * 1001}])
def test_control_with_a_bad_body_is_400(api, body):
    eid = started(api, ASK)
    assert error_of(api.post(f"/executions/{eid}/pause", body), 400)
    api.settle()
    assert api.execution(eid)["status"] == "running"


def test_redrive_of_a_running_or_succeeded_execution_is_409(api):
    eid = started(api, ASK)
    assert "only a failed" in error_of(api.post(f"/executions/{eid}/redrive"), 409)["message"]
    assert error_of(api.post(f"/executions/{eid}/redrive", {"x": 1}), 400)
    done = started(api, SIMPLE, {"who": "a"})
    assert error_of(api.post(f"/executions/{done}/redrive"), 409)


# -- inquiries --------------------------------------------------------------------------------------------
def test_inquiries_list_get_respond_and_conflict(api):
    eid = started(api, ASK)
    (inquiry,) = api.pending(eid)
    assert (inquiry["task"], inquiry["prompt"], inquiry["status"]) == ("approve", "Ship it?", "pending")
    assert api.get(f"/inquiries/{inquiry['id']}").body == inquiry
    assert api.get("/inquiries").body["inquiries"] == [inquiry]
    bad = error_of(api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": "yes"}}), 400)
    assert "schema" in bad["message"]
    assert api.pending(eid) == [inquiry]
    r = api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True}})
    assert (r.status, r.body) == (200, {"inquiry": inquiry["id"], "status": "answered"})
    assert error_of(api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": False}}), 409)
    api.settle()
    assert api.execution(eid)["tasks"][1]["result"] == {"answer": True}
    assert api.get("/inquiries?status=answered").body["inquiries"][0]["response"] == {"ok": True}


@pytest.mark.parametrize("body, status", [(None, 400), ({}, 400), ({"response": 1, "x": 2}, 400), ([1], 400)])
def test_respond_needs_exactly_a_response_field(api, body, status):
    eid = started(api, ASK)
    (inquiry,) = api.pending(eid)
    assert error_of(api.post(f"/inquiries/{inquiry['id']}/respond", body), status)
    assert api.pending(eid) == [inquiry]


def test_inquiry_errors(api):
    assert error_of(api.get("/inquiries?status=open"), 400)
    assert error_of(api.get("/inquiries/nope"), 404)
    assert error_of(api.post("/inquiries/nope/respond", {"response": 1}), 404)


# -- callbacks ---------------------------------------------------------------------------------------------
def test_callback_endpoints_queue_and_validate(api):
    eid = started(api, CALLBACK)
    token = f"{eid}~hand_off~1~0~0000000000000000"  # the shape of a token, not the task's: ignored
    r = api.post(f"/callbacks/{token}/succeed", {"result": {"n": 1}})
    assert (r.status, r.body) == (202, {"token": token, "status": "succeeded"})
    api.settle()
    assert api.execution(eid)["tasks"][0]["status"] == "running"
    assert error_of(api.post("/callbacks/not-a-token/succeed"), 404)
    assert error_of(api.post(f"/callbacks/{token}/fail", {"error": {"code": 1}}), 400)
    assert error_of(api.post(f"/callbacks/{token}/fail", {"error": 5}), 400)
    assert error_of(api.post(f"/callbacks/{token}/succeed", {"output": 1}), 400)
    assert api.post(f"/callbacks/{token}/fail", {"error": "no capacity"}).status == 202


# -- the HTTP layer of `relayflow serve` ----------------------------------------------------------------------
def raw_request(api, lines: list[str], body: bytes = b"") -> tuple[int, dict]:
    # "Host: x" stands for this server's own Host; state-changing requests say they are JSON.
    lines = [f"Host: {api.server.host}:{api.server.port}" if line == "Host: x" else line for line in lines]
    if lines[0].split()[0] in ("POST", "PUT") and not any(line.lower().startswith("content-type:") for line in lines):
        lines.append("Content-Type: application/json")
    conn = http.client.HTTPConnection(api.server.host, api.server.port, timeout=30)
    conn.connect()
    conn.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
    resp = http.client.HTTPResponse(conn.sock, method=lines[0].split()[0])
    resp.begin()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if data else {}


def test_serve_refuses_chunked_bodies_and_bad_lengths_with_4xx(api):
    status, _ = raw_request(api, ["POST /workflows/x/executions HTTP/1.1", "Host: x",
                                  "Transfer-Encoding: chunked"], b"2\r\n{}\r\n0\r\n\r\n")
    assert status == 411
    status, _ = raw_request(api, ["POST /workflows/x/executions HTTP/1.1", "Host: x", "Content-Length: -3"])
    assert status == 400
    status, body = raw_request(api, ["POST /workflows/x/executions HTTP/1.1", "Host: x",
                                     "Content-Length: 1000000000000"])  # refused before reading
    assert status == 413 and body["type"] == "PayloadTooLarge"


def test_serve_passes_raw_utf8_and_encoded_paths_through(api):
    status, body = raw_request(api, ["GET /executions/caf\u00e9 HTTP/1.1", "Host: x"])
    assert status == 404 and body["message"] == "no execution 'caf\u00e9'"  # raw UTF-8 in the path
    status, body = raw_request(api, ["GET /executions/a%2Fb HTTP/1.1", "Host: x"])
    assert status == 404 and "'a/b'" in body["message"]
    status, body = raw_request(api, ["GET /executions/%ff%fe HTTP/1.1", "Host: x"])
    assert status == 400 and "UTF-8" in json.dumps(body)
